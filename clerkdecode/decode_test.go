package clerkdecode_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

func TestDecodeEnvelope(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		want clerkdecode.Envelope
	}{
		{
			name: "Milliseconds",
			body: `{"object":"event","type":"user.updated","instance_id":"ins_1","timestamp":1716883500123,"data":{"id":"user_1"}}`,
			want: clerkdecode.Envelope{Type: "user.updated", InstanceID: "ins_1", Timestamp: 1716883500123, Data: []byte(`{"id":"user_1"}`)},
		},
		{
			name: "Seconds",
			body: `{"type":"user.updated","timestamp":1716883500,"data":{}}`,
			want: clerkdecode.Envelope{Type: "user.updated", Timestamp: 1716883500000, Data: []byte(`{}`)},
		},
		{
			name: "SmallestMilliseconds",
			body: `{"type":"user.updated","timestamp":1000000000000,"data":{}}`,
			want: clerkdecode.Envelope{Type: "user.updated", Timestamp: 1000000000000, Data: []byte(`{}`)},
		},
		{
			name: "LargestSeconds",
			body: `{"type":"user.updated","timestamp":999999999999,"data":{}}`,
			want: clerkdecode.Envelope{Type: "user.updated", Timestamp: 999999999999000, Data: []byte(`{}`)},
		},
		{
			name: "TimestampMissing",
			body: `{"type":"session.created","data":{"user_id":"user_1"}}`,
			want: clerkdecode.Envelope{Type: "session.created", Data: []byte(`{"user_id":"user_1"}`)},
		},
		{
			name: "TimestampNullAndInstanceNull",
			body: `{"type":"session.created","timestamp":null,"instance_id":null,"data":{}}`,
			want: clerkdecode.Envelope{Type: "session.created", Data: []byte(`{}`)},
		},
		{
			name: "DataFirstWhiteSpaceUnknownKeys",
			body: " \n\t{ \"data\" : { \"a\" : [ 1 , 2 ] } ,\r\n \"extra\": {\"type\": \"nested\"}, \"type\" : \"user.created\" , \"timestamp\" : 0 }\n",
			want: clerkdecode.Envelope{Type: "user.created", Data: []byte(`{ "a" : [ 1 , 2 ] }`)},
		},
		{
			name: "EscapedType",
			body: `{"type":"organization\u002ecreated","data":{}}`,
			want: clerkdecode.Envelope{Type: "organization.created", Data: []byte(`{}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.body)
			got, err := clerkdecode.DecodeEnvelope(body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeEnvelope mismatch (-want +got):\n%s", diff)
			}
			if !within(got.Data, body) {
				t.Error("Data is a copy, want a sub-slice of the body")
			}
		})
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		want string // the error message, after "clerk payload: "
	}{
		{name: "Empty", body: ``, want: "invalid JSON: unexpected end of input at offset 0"},
		{name: "Array", body: `[]`, want: "want an object, got an array at offset 0"},
		{name: "Null", body: `null`, want: "want an object, got null at offset 0"},
		{name: "String", body: `"user.updated"`, want: "want an object, got a string at offset 0"},
		{name: "Garbage", body: `<html>`, want: "invalid JSON: unexpected character at offset 0"},
		{name: "Truncated", body: `{"type":"user.updated","data":{"id":`, want: "data: invalid JSON: unexpected end of input at offset 36"},
		{name: "TrailingData", body: `{"type":"user.updated","data":{}} {}`, want: "invalid JSON: unexpected data after the top-level value at offset 34"},
		{name: "TrailingComma", body: `{"type":"user.updated","data":{},}`, want: "invalid JSON: unexpected character at offset 33"},
		{name: "NoType", body: `{"data":{}}`, want: "type: missing or empty"},
		{name: "EmptyType", body: `{"type":"","data":{}}`, want: "type: missing or empty"},
		{name: "TypeNotString", body: `{"type":1,"data":{}}`, want: "type: want a string, got a number at offset 8"},
		{name: "NoData", body: `{"type":"user.updated"}`, want: "data: missing"},
		{name: "DataString", body: `{"type":"user.updated","data":"user_1"}`, want: "data: want an object, got a string at offset 30"},
		{name: "DataArray", body: `{"type":"user.updated","data":[{}]}`, want: "data: want an object, got an array at offset 30"},
		{name: "DataNull", body: `{"type":"user.updated","data":null}`, want: "data: want an object, got null at offset 30"},
		{name: "TimestampString", body: `{"type":"user.updated","timestamp":"1716883500","data":{}}`, want: "timestamp: want a number, got a string at offset 35"},
		{name: "TimestampNegative", body: `{"type":"user.updated","timestamp":-1,"data":{}}`, want: "timestamp: want a non-negative integer at offset 35"},
		{name: "TimestampFraction", body: `{"type":"user.updated","timestamp":1716883500.5,"data":{}}`, want: "timestamp: want a non-negative integer at offset 35"},
		{name: "TimestampOverflow", body: `{"type":"user.updated","timestamp":9223372036854775808,"data":{}}`, want: "timestamp: integer out of range at offset 35"},
		{name: "InvalidUTF8", body: "{\"type\":\"user.updated\xff\",\"data\":{}}", want: "type: invalid JSON: invalid UTF-8 in string at offset 21"},
		{name: "ControlCharacter", body: "{\"type\":\"user\n\",\"data\":{}}", want: "type: invalid JSON: control character in string at offset 13"},
		{name: "BadEscape", body: `{"type":"user\x","data":{}}`, want: "type: invalid JSON: invalid escape in string at offset 13"},
		{name: "BadNumber", body: `{"type":"user.updated","timestamp":01,"data":{}}`, want: "invalid JSON: unexpected character at offset 36"},
		{name: "BadLiteral", body: `{"type":"user.updated","x":nul,"data":{}}`, want: "x: invalid JSON: invalid literal at offset 27"},
		{name: "TooDeep", body: `{"type":"t","data":{},"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, want: "x: invalid JSON: nested too deeply at offset 10025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := clerkdecode.DecodeEnvelope([]byte(tt.body))
			var de *clerkdecode.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if got, want := err.Error(), "clerk payload: "+tt.want; got != want {
				t.Errorf("err = %q, want %q", got, want)
			}
		})
	}
}

func TestDecodeUser(t *testing.T) {
	t.Parallel()

	data := readFile(t, "users/bapi-user.json")
	want := &clerksync.Profile{
		UserID: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", Email: "john.doe@example.com", EmailVerified: true,
		Phone: "+15555550100", Username: "johndoe", FirstName: "John", LastName: "Doe",
		ImageURL: "https://img.clerk.com/yyyyy", ExternalID: "ext_7781",
		PublicMetadata: raw(`{"department":"engineering","plan":"pro"}`),
		UnsafeMetadata: raw(`{"onboarded":true}`),
		CreatedAt:      1716883200000, UpdatedAt: 1716883500000, LastSignInAt: 1716883400000, LastActiveAt: 1716854400000,
	}

	t.Run("BackendAPIUser", func(t *testing.T) {
		t.Parallel()
		got, err := clerkdecode.DecodeUser(data, clerkdecode.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, profileOpts); diff != "" {
			t.Errorf("DecodeUser mismatch (-want +got):\n%s", diff)
		}
		checkProfileRaw(t, got, data, nil, false)
		if strings.Contains(string(got.Raw), "cus_Q1w2e3r4") {
			t.Error("Raw holds the private metadata")
		}
		// Private metadata nested elsewhere (an organization membership's) is not the
		// user's and stays.
		if !strings.Contains(string(got.Raw), `"private_metadata": {"seat": 1}`) {
			t.Error("Raw lost a nested private_metadata")
		}
	})
	t.Run("BackendAPIUserKeepPrivateMetadata", func(t *testing.T) {
		t.Parallel()
		got, err := clerkdecode.DecodeUser(data, clerkdecode.Options{KeepPrivateMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		want := *want
		want.PrivateMetadata = raw(`{"stripe_customer_id":"cus_Q1w2e3r4"}`)
		if diff := cmp.Diff(&want, got, profileOpts); diff != "" {
			t.Errorf("DecodeUser mismatch (-want +got):\n%s", diff)
		}
		checkProfileRaw(t, got, data, data, true)
	})
	t.Run("Minimal", func(t *testing.T) {
		t.Parallel()
		got, err := clerkdecode.DecodeUser([]byte(`{"id":"user_1","updated_at":1}`), clerkdecode.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := &clerksync.Profile{UserID: "user_1", UpdatedAt: 1, PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`)}
		if diff := cmp.Diff(want, got, profileOpts); diff != "" {
			t.Errorf("DecodeUser mismatch (-want +got):\n%s", diff)
		}
		if got, want := string(got.Raw), `{"id":"user_1","updated_at":1}`; got != want {
			t.Errorf("Raw = %s, want %s", got, want)
		}
	})
	t.Run("PrimaryIDChangesAfterArray", func(t *testing.T) {
		t.Parallel()
		// A repeated key: the last value counts, as with any JSON decoder.
		got, err := clerkdecode.DecodeUser([]byte(`{"id":"user_1","updated_at":1,
			"primary_email_address_id":"idn_a",
			"email_addresses":[{"id":"idn_a","email_address":"a@example.com"},{"id":"idn_b","email_address":"b@example.com","verification":{"status":"verified"}}],
			"primary_email_address_id":"idn_b"}`), clerkdecode.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := got.Email, "b@example.com"; got != want {
			t.Errorf("Email = %q, want %q", got, want)
		}
		if !got.EmailVerified {
			t.Error("EmailVerified = false, want true")
		}
	})
}

func TestDecodeUserErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data string
		want string // the error message, after "clerk payload: "
	}{
		{name: "NotObject", data: `[]`, want: "want an object, got an array at offset 0"},
		{name: "Null", data: `null`, want: "want an object, got null at offset 0"},
		{name: "Malformed", data: `{"id":"user_1",`, want: "invalid JSON: unexpected end of input at offset 15"},
		{name: "Trailing", data: `{"id":"user_1","updated_at":1}x`, want: "invalid JSON: unexpected data after the top-level value at offset 30"},
		{name: "MissingID", data: `{"updated_at":1}`, want: "id: missing or empty"},
		{name: "NullID", data: `{"id":null,"updated_at":1}`, want: "id: missing or empty"},
		{name: "EmptyID", data: `{"id":"","updated_at":1}`, want: "id: missing or empty"},
		{name: "NumericID", data: `{"id":1,"updated_at":1}`, want: "id: want a string, got a number at offset 6"},
		{name: "MissingUpdatedAt", data: `{"id":"user_1"}`, want: "updated_at: missing, null or zero: the change cannot be ordered"},
		{name: "NullUpdatedAt", data: `{"id":"user_1","updated_at":null}`, want: "updated_at: missing, null or zero: the change cannot be ordered"},
		{name: "ZeroUpdatedAt", data: `{"id":"user_1","updated_at":0}`, want: "updated_at: missing, null or zero: the change cannot be ordered"},
		{name: "StringUpdatedAt", data: `{"id":"user_1","updated_at":"1716883500000"}`, want: "updated_at: want a number, got a string at offset 28"},
		{name: "FloatUpdatedAt", data: `{"id":"user_1","updated_at":1.7e12}`, want: "updated_at: want a non-negative integer at offset 28"},
		{name: "BannedString", data: `{"id":"user_1","updated_at":1,"banned":"no"}`, want: "banned: want a boolean, got a string at offset 39"},
		{name: "EmailsObject", data: `{"id":"user_1","updated_at":1,"email_addresses":{}}`, want: "email_addresses: want an array, got an object at offset 48"},
		{name: "EmailEntryString", data: `{"id":"user_1","updated_at":1,"email_addresses":[{},"a@example.com"]}`, want: "email_addresses[1]: want an object, got a string at offset 52"},
		{name: "EmailAddressNumber", data: `{"primary_email_address_id":"idn_1","email_addresses":[{"id":"idn_1","email_address":5}],"id":"user_1","updated_at":1}`, want: "email_addresses[0].email_address: want a string, got a number at offset 85"},
		{name: "VerificationString", data: `{"id":"user_1","updated_at":1,"phone_numbers":[{"id":"idn_1","verification":"verified"}]}`, want: "phone_numbers[0].verification: want an object, got a string at offset 76"},
		{name: "StatusNumber", data: `{"id":"user_1","updated_at":1,"phone_numbers":[{"verification":{"status":1}}]}`, want: "phone_numbers[0].verification.status: want a string, got a number at offset 73"},
		{name: "UnknownMemberMalformed", data: `{"id":"user_1","updated_at":1,"x":[1,}`, want: "x: invalid JSON: unexpected character at offset 37"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := clerkdecode.DecodeUser([]byte(tt.data), clerkdecode.Options{})
			var de *clerkdecode.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if p != nil {
				t.Errorf("profile = %+v, want nil", p)
			}
			if got, want := err.Error(), "clerk payload: "+tt.want; got != want {
				t.Errorf("err = %q, want %q", got, want)
			}
		})
	}
}

func TestDecodeUsers(t *testing.T) {
	t.Parallel()

	arr := readFile(t, "users/list.json")
	want := []*clerksync.Profile{
		{
			UserID: "user_list_1", Email: "one@example.com", EmailVerified: true, Username: "one", FirstName: "One",
			ImageURL: "https://img.clerk.com/l1", PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
			CreatedAt: 1716883200000, UpdatedAt: 1716883300000, LastSignInAt: 1716883400000, LastActiveAt: 1716883400000,
		},
		{
			UserID: "user_list_2", Phone: "+15555550102", LastName: "Two", ImageURL: "https://img.clerk.com/l2", Banned: true,
			PublicMetadata: raw(`{}`), UnsafeMetadata: raw(`{}`),
			CreatedAt: 1716883200000, UpdatedAt: 1716883310000,
		},
		{
			UserID: "user_list_3", FirstName: "Three", LastName: "Users", ExternalID: "ext-3",
			PublicMetadata: raw(`{"n":3}`), UnsafeMetadata: raw(`{}`),
			CreatedAt: 1716883200000, UpdatedAt: 1716883320000,
		},
	}
	var users []map[string]any
	if err := jsonUnmarshal(arr, &users); err != nil {
		t.Fatal(err)
	}

	for _, keep := range []bool{false, true} {
		name := "CutPrivateMetadata"
		if keep {
			name = "KeepPrivateMetadata"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := clerkdecode.DecodeUsers(arr, clerkdecode.Options{KeepPrivateMetadata: keep})
			if err != nil {
				t.Fatal(err)
			}
			want := clonedProfiles(want)
			if keep {
				want[0].PrivateMetadata = raw(`{"secret":"one"}`)
				want[1].PrivateMetadata = raw(`{}`)
				want[2].PrivateMetadata = raw(`{}`)
			}
			if diff := cmp.Diff(want, got, profileOpts); diff != "" {
				t.Fatalf("DecodeUsers mismatch (-want +got):\n%s", diff)
			}
			for i, p := range got {
				wantRaw := users[i]
				if !keep {
					wantRaw = withoutPrivate(wantRaw)
				}
				if diff := cmp.Diff(wantRaw, decodeObject(t, p.Raw)); diff != "" {
					t.Errorf("user %d: Raw mismatch (-want +got):\n%s", i, diff)
				}
				if keep && !within(p.Raw, arr) {
					t.Errorf("user %d: Raw is a copy, want a sub-slice of the array", i)
				}
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		got, err := clerkdecode.DecodeUsers([]byte(" [ ] "), clerkdecode.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("got %d profiles, want none", len(got))
		}
	})
}

func TestDecodeUsersErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		arr  string
		want string
	}{
		{name: "Object", arr: `{"data":[]}`, want: "want an array, got an object at offset 0"},
		{name: "Null", arr: `null`, want: "want an array, got null at offset 0"},
		{name: "BadUser", arr: `[{"id":"user_1","updated_at":1},{"id":"user_2"}]`, want: "[1].updated_at: missing, null or zero: the change cannot be ordered"},
		{name: "NotUser", arr: `[{"id":"user_1","updated_at":1},2]`, want: "[1]: want an object, got a number at offset 32"},
		{name: "Unterminated", arr: `[{"id":"user_1","updated_at":1}`, want: "invalid JSON: unexpected end of input at offset 31"},
		{name: "MissingComma", arr: `[{"id":"user_1","updated_at":1} {}]`, want: "invalid JSON: unexpected character at offset 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := clerkdecode.DecodeUsers([]byte(tt.arr), clerkdecode.Options{})
			var de *clerkdecode.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if got, want := err.Error(), "clerk payload: "+tt.want; got != want {
				t.Errorf("err = %q, want %q", got, want)
			}
		})
	}
}

func TestDecodeDeletedUser(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		data    string
		want    string
		wantErr string
	}{
		{name: "Fixture", data: `{"object":"user","id":"user_2g7np7Hrk0SN6kj5EDMLDaKNL0S","deleted":true,"external_id":null}`, want: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"},
		{name: "ExternalID", data: `{"deleted":true,"external_id":"ext_123456789","id":"user_gone","object":"user"}`, want: "user_gone"},
		{name: "NoID", data: `{"object":"user","deleted":true}`, wantErr: "id: missing or not a string"},
		{name: "NumericID", data: `{"object":"user","id":5,"deleted":true}`, wantErr: "id: missing or not a string"},
		{name: "NotObject", data: `"user_1"`, wantErr: "want an object, got a string at offset 0"},
		{name: "Malformed", data: `{"id":"user_1"`, wantErr: "invalid JSON: unexpected end of input at offset 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := clerkdecode.DecodeDeletedUser([]byte(tt.data))
			if tt.wantErr != "" {
				var de *clerkdecode.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want a *DecodeError", err)
				}
				if got, want := err.Error(), "clerk payload: "+tt.wantErr; got != want {
					t.Errorf("err = %q, want %q", got, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("id = %q, want %q", got, tt.want)
			}
		})
	}
}

// clonedProfiles returns copies of ps, which tests may change.
func clonedProfiles(ps []*clerksync.Profile) []*clerksync.Profile {
	out := make([]*clerksync.Profile, len(ps))
	for i, p := range ps {
		c := *p
		out[i] = &c
	}
	return out
}

func TestSplitArray(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"Empty", `[]`, nil, false},
		{"Objects", ` [ {"id":"a","x":[1,{"y":"]"}]} , {"id":"b"} ] `, []string{`{"id":"a","x":[1,{"y":"]"}]}`, `{"id":"b"}`}, false},
		{"Mixed", `[1,"s",null,{}]`, []string{`1`, `"s"`, `null`, `{}`}, false},
		{"Null", `null`, nil, true},
		{"Object", `{"a":1}`, nil, true},
		{"Truncated", `[{"id":"a"},`, nil, true},
		{"Trailing", `[{}] x`, nil, true},
		{"BadElement", `[{"id":}]`, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := clerkdecode.SplitArray([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("SplitArray(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			var gotS []string
			for _, g := range got {
				gotS = append(gotS, string(g))
			}
			if diff := cmp.Diff(tt.want, gotS); diff != "" {
				t.Fatalf("SplitArray(%s) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
