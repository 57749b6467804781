package clerkfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Clerk's listing parameters.
const (
	defaultLimit  = 10
	maxLimit      = 500
	maxFilterArgs = 100
	maxBodyBytes  = 1 << 20
)

// apiError is an answer other than 200 decided while handling a request.
type apiError struct {
	status int
	err    clerkError
}

func (e *apiError) Error() string { return e.err.Code + ": " + e.err.LongMessage }

func unprocessable(code, param, long string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, paramError(code, param, "is invalid", long)}
}

// writeFailure answers err: Clerk's error for an *apiError, 404 for an unknown
// user, 422 for a taken identifier, 500 otherwise.
func writeFailure(w http.ResponseWriter, id string, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.status, ae.err)
	case errors.Is(err, ErrUserNotFound):
		writeNotFound(w, id)
	case errors.Is(err, ErrIdentifierTaken):
		writeError(w, http.StatusUnprocessableEntity, clerkError{Code: "form_identifier_exists", Message: "That email address or username is taken. Please try another.", LongMessage: "That email address or username is taken. Please try another."})
	default:
		writeError(w, http.StatusInternalServerError, clerkError{Code: "internal_clerk_error", Message: "Oops, an unexpected error occurred", LongMessage: err.Error()})
	}
}

// writeNotFound answers Clerk's 404 for an unknown user id.
func writeNotFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, notFound("user", id))
}

// notFound is Clerk's error for an unknown id of a what (user, organization).
func notFound(what, id string) clerkError {
	return clerkError{Code: "resource_not_found", Message: "not found", LongMessage: "No " + what + " was found with id " + id}
}

// listUsers answers GET /v1/users: a bare JSON array, cut from the stored bytes.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q, ae := parseQuery(r.URL.Query(), true)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	page, err := s.store.page(q)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, paramError("form_param_value_invalid", "starting_after", "is invalid", "starting_after must be the id of a user: "+q.after+" is not"))
		return
	}
	n := 2
	for _, raw := range page {
		n += len(raw) + 1
	}
	body := make([]byte, 0, n)
	body = append(body, '[')
	for i, raw := range page {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, raw...)
	}
	body = append(body, ']')
	writeJSON(w, http.StatusOK, body)
}

// countUsers answers GET /v1/users/count.
func (s *Server) countUsers(w http.ResponseWriter, r *http.Request) {
	q, ae := parseQuery(r.URL.Query(), false)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	writeJSON(w, http.StatusOK, fmt.Appendf(nil, `{"object":"total_count","total_count":%d}`, s.store.count(q)))
}

// getUser answers GET /v1/users/{user_id}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("user_id")
	s.store.mu.RLock()
	rec, ok := s.store.byID[id]
	s.store.mu.RUnlock()
	if !ok {
		writeNotFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, rec.raw)
}

// handleDeleteUser answers DELETE /v1/users/{user_id} with the deleted object.
func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("user_id")
	if _, err := s.deleteUser(id); err != nil {
		writeFailure(w, id, err)
		return
	}
	body, _ := json.Marshal(DeletedObject{Object: "user", ID: id, Deleted: true})
	writeJSON(w, http.StatusOK, body)
}

// setFlag returns the handler of an endpoint that changes a user with f and answers
// the user (ban, unban, lock, unlock).
func (s *Server) setFlag(f func(*User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("user_id")
		_, raw, err := s.mutate(id, func(u *User) error {
			f(u)
			return nil
		})
		if err != nil {
			writeFailure(w, id, err)
			return
		}
		writeJSON(w, http.StatusOK, raw)
	}
}

// parseQuery reads the parameters of a listing (list is true) or a count.
func parseQuery(v url.Values, list bool) (*query, *apiError) {
	q := &query{limit: defaultLimit, desc: true}
	var ae *apiError
	if list {
		if q.limit, ae = intParam(v, "limit", defaultLimit, 1, maxLimit); ae != nil {
			return nil, ae
		}
		if q.offset, ae = intParam(v, "offset", 0, 0, -1); ae != nil {
			return nil, ae
		}
		// Clerk keeps the first order_by and implies + without a sign.
		if order := v["order_by"]; len(order) > 0 && order[0] != "" {
			field := order[0]
			q.desc = strings.HasPrefix(field, "-")
			field = strings.TrimLeft(field, "+-")
			switch field {
			case "created_at":
			case "updated_at":
				q.byUpdated = true
			default:
				return nil, unprocessable("form_param_value_invalid", "order_by", "order_by must be created_at or updated_at, with an optional + or - prefix")
			}
		}
		if q.after = v.Get("starting_after"); q.after != "" {
			if q.byUpdated {
				return nil, unprocessable("form_param_value_invalid", "starting_after", "starting_after requires ordering by created_at")
			}
			if q.offset != 0 {
				return nil, unprocessable("form_param_value_invalid", "starting_after", "starting_after cannot be combined with a non-zero offset")
			}
		}
	}
	for _, f := range []struct {
		param   string
		include *map[string]bool
		exclude *map[string]bool
		lower   bool
	}{
		{"user_id", &q.includeIDs, &q.excludeIDs, false},
		{"external_id", &q.includeExt, &q.excludeExt, false},
		{"email_address", &q.emails, nil, true},
		{"username", &q.usernames, nil, true},
	} {
		values := v[f.param]
		if len(values) == 0 {
			continue
		}
		if len(values) > maxFilterArgs {
			return nil, unprocessable("form_param_exceeds_allowed_size", f.param, fmt.Sprintf("%s accepts up to %d values", f.param, maxFilterArgs))
		}
		for _, val := range values {
			set := f.include
			if f.exclude != nil {
				// For ids, a - prefix excludes and a + prefix (or none) includes.
				switch {
				case strings.HasPrefix(val, "-"):
					set, val = f.exclude, val[1:]
				case strings.HasPrefix(val, "+"):
					val = val[1:]
				}
			}
			if f.lower {
				val = strings.ToLower(val)
			}
			if *set == nil {
				*set = make(map[string]bool)
			}
			(*set)[val] = true
		}
	}
	return q, nil
}

// intParam reads the integer parameter name, def when absent, within [lo, hi]
// (hi < 0 for no upper bound).
func intParam(v url.Values, name string, def, lo, hi int) (int, *apiError) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, unprocessable("form_param_format_invalid", name, name+" must be an integer")
	}
	if n < lo || (hi >= 0 && n > hi) {
		long := fmt.Sprintf("%s must be at least %d", name, lo)
		if hi >= 0 {
			long = fmt.Sprintf("%s must be between %d and %d", name, lo, hi)
		}
		return 0, unprocessable("form_param_value_invalid", name, long)
	}
	return n, nil
}

// readParams decodes the JSON body of r into a map of its parameters, rejecting
// those not in allowed as Clerk does.
func readParams(r *http.Request, allowed map[string]bool) (map[string]json.RawMessage, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, clerkError{Code: "malformed_request", Message: "malformed request", LongMessage: "The request body could not be read."}}
	}
	params := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &params); err != nil {
			return nil, &apiError{http.StatusBadRequest, clerkError{Code: "malformed_request", Message: "malformed request", LongMessage: "The request body must be a JSON object."}}
		}
	}
	for k := range params {
		if !allowed[k] {
			return nil, unprocessable("form_param_unknown", k, k+" is not a valid parameter for this request.")
		}
	}
	return params, nil
}

// decodeParam decodes params[name] into dst, reporting whether it was present.
func decodeParam(params map[string]json.RawMessage, name string, dst any) (bool, *apiError) {
	raw, ok := params[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return false, unprocessable("form_param_format_invalid", name, name+" has the wrong type")
	}
	return true, nil
}

// metadataParam returns params[name] when it is a JSON object, {} for null.
func metadataParam(params map[string]json.RawMessage, name string) (json.RawMessage, bool, *apiError) {
	raw, ok := params[name]
	if !ok {
		return nil, false, nil
	}
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return json.RawMessage(`{}`), true, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false, unprocessable("form_param_format_invalid", name, name+" must be an object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, false, unprocessable("form_param_format_invalid", name, name+" must be an object")
	}
	return json.RawMessage(compact.Bytes()), true, nil
}

// timeParam reads an RFC 3339 time parameter as milliseconds.
func timeParam(params map[string]json.RawMessage, name string) (int64, bool, *apiError) {
	var s *string
	ok, ae := decodeParam(params, name, &s)
	if ae != nil || !ok || s == nil {
		return 0, false, ae
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return 0, false, unprocessable("form_param_format_invalid", name, name+" must be an RFC 3339 date, such as 2012-10-20T07:15:20.902Z")
	}
	return t.UnixMilli(), true, nil
}

var createParams = setOf("external_id", "first_name", "last_name", "locale", "email_address",
	"email_address_identification_status", "phone_number", "phone_number_identification_status",
	"web3_wallet", "username", "password", "password_digest", "password_hasher",
	"skip_password_checks", "skip_password_requirement", "totp_secret", "backup_codes",
	"public_metadata", "private_metadata", "unsafe_metadata", "delete_self_enabled",
	"legal_accepted_at", "skip_legal_checks", "skip_user_requirement",
	"create_organization_enabled", "create_organizations_limit", "created_at",
	"bypass_client_trust", "banned", "locked")

// createUser answers POST /v1/users: the new user, its identifiers verified by the
// administrator unless marked reserved.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	params, ae := readParams(r, createParams)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	u, ae := s.userFromParams(params)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	if err := s.AddUser(u); err != nil {
		writeFailure(w, u.ID, err)
		return
	}
	s.store.mu.RLock()
	rec := s.store.byID[u.ID]
	s.store.mu.RUnlock()
	if rec == nil {
		// Deleted between its creation and this answer.
		writeNotFound(w, u.ID)
		return
	}
	writeJSON(w, http.StatusOK, rec.raw)
}

// userFromParams builds the user that POST /v1/users creates from params.
func (s *Server) userFromParams(params map[string]json.RawMessage) (*User, *apiError) {
	var (
		emails, emailStatus, phones, phoneStatus, wallets []string
		username, password, digest                        *string
		first, last, locale, externalID                   *string
		skipUser, deleteSelf, createOrg, bypass           *bool
		banned, locked                                    *bool
		orgLimit                                          *int64
	)
	for name, dst := range map[string]any{
		"email_address": &emails, "email_address_identification_status": &emailStatus,
		"phone_number": &phones, "phone_number_identification_status": &phoneStatus,
		"web3_wallet": &wallets, "username": &username, "password": &password,
		"password_digest": &digest, "first_name": &first, "last_name": &last,
		"locale": &locale, "external_id": &externalID, "skip_user_requirement": &skipUser,
		"delete_self_enabled": &deleteSelf, "create_organization_enabled": &createOrg,
		"bypass_client_trust": &bypass, "banned": &banned, "locked": &locked,
		"create_organizations_limit": &orgLimit,
	} {
		if _, ae := decodeParam(params, name, dst); ae != nil {
			return nil, ae
		}
	}
	if len(emails)+len(phones)+len(wallets) == 0 && blank(username) && !isTrue(skipUser) {
		return nil, unprocessable("form_param_missing", "email_address", "At least one identifier is required: email_address, phone_number, web3_wallet or username.")
	}
	if len(emailStatus) > 0 && len(emailStatus) != len(emails) {
		return nil, unprocessable("form_param_value_invalid", "email_address_identification_status", "email_address_identification_status must have one item per email address")
	}
	if len(phoneStatus) > 0 && len(phoneStatus) != len(phones) {
		return nil, unprocessable("form_param_value_invalid", "phone_number_identification_status", "phone_number_identification_status must have one item per phone number")
	}
	if password != nil && len(*password) < 8 {
		return nil, unprocessable("form_password_length_too_short", "password", "Passwords must be 8 characters or more.")
	}

	now := s.now()
	createdMS := now.UnixMilli()
	if ms, ok, ae := timeParam(params, "created_at"); ae != nil {
		return nil, ae
	} else if ok {
		createdMS = ms
	}
	created := time.UnixMilli(createdMS)
	s.store.mu.Lock()
	rng := newRand(s.store.nextSeed())
	s.store.mu.Unlock()

	u := &User{
		Object:                        "user",
		ID:                            newID("user_", created, rng),
		ExternalID:                    nonBlank(externalID),
		Username:                      nonBlank(username),
		FirstName:                     nonBlank(first),
		LastName:                      nonBlank(last),
		Locale:                        nonBlank(locale),
		ProfileImageURL:               "https://www.gravatar.com/avatar?d=mp",
		PasswordEnabled:               password != nil || digest != nil,
		Banned:                        isTrue(banned),
		Locked:                        isTrue(locked),
		VerificationAttemptsRemaining: ptr(int64(100)),
		DeleteSelfEnabled:             deleteSelf == nil || *deleteSelf,
		CreateOrganizationEnabled:     createOrg == nil || *createOrg,
		CreateOrganizationsLimit:      orgLimit,
		BypassClientTrust:             isTrue(bypass),
		CreatedAt:                     createdMS,
		UpdatedAt:                     max(createdMS, now.UnixMilli()),
	}
	if u.PasswordEnabled {
		u.PasswordLastUpdatedAt = ptr(now.UnixMilli())
	}
	if u.Locked {
		u.VerificationAttemptsRemaining = ptr(int64(0))
	}
	for _, name := range []string{"public_metadata", "private_metadata", "unsafe_metadata"} {
		m, _, ae := metadataParam(params, name)
		if ae != nil {
			return nil, ae
		}
		switch name {
		case "public_metadata":
			u.PublicMetadata = m
		case "private_metadata":
			u.PrivateMetadata = m
		default:
			u.UnsafeMetadata = m
		}
	}
	if ms, ok, ae := timeParam(params, "legal_accepted_at"); ae != nil {
		return nil, ae
	} else if ok {
		u.LegalAcceptedAt = &ms
	}
	for i, e := range emails {
		reserved := i < len(emailStatus) && emailStatus[i] == "reserved"
		u.EmailAddresses = append(u.EmailAddresses, EmailAddress{
			ID: newID("idn_", created, rng), Object: "email_address", EmailAddress: e,
			Reserved: reserved, Verification: adminVerification(reserved),
			LinkedTo: []IdentificationLink{}, CreatedAt: createdMS, UpdatedAt: createdMS,
		})
	}
	for i, ph := range phones {
		reserved := i < len(phoneStatus) && phoneStatus[i] == "reserved"
		u.PhoneNumbers = append(u.PhoneNumbers, PhoneNumber{
			ID: newID("idn_", created, rng), Object: "phone_number", PhoneNumber: ph,
			Reserved: reserved, Verification: adminVerification(reserved),
			LinkedTo: []IdentificationLink{}, CreatedAt: createdMS, UpdatedAt: createdMS,
		})
	}
	for _, addr := range wallets {
		u.Web3Wallets = append(u.Web3Wallets, Web3Wallet{
			ID: newID("idn_", created, rng), Object: "web3_wallet", Web3Wallet: addr,
			Verification: adminVerification(false), CreatedAt: createdMS, UpdatedAt: createdMS,
		})
	}
	// The first of each is the primary one.
	if len(u.EmailAddresses) > 0 {
		u.PrimaryEmailAddressID = &u.EmailAddresses[0].ID
	}
	if len(u.PhoneNumbers) > 0 {
		u.PrimaryPhoneNumberID = &u.PhoneNumbers[0].ID
	}
	if len(u.Web3Wallets) > 0 {
		u.PrimaryWeb3WalletID = &u.Web3Wallets[0].ID
	}
	u.ImageURL = defaultImageURL(u)
	return u, nil
}

// adminVerification is how Clerk marks an identifier created through the Backend
// API.
func adminVerification(reserved bool) *Verification {
	status := "verified"
	if reserved {
		status = "unverified"
	}
	return &Verification{Object: "verification_admin", Status: status, Strategy: "admin"}
}

var updateParams = setOf("external_id", "first_name", "last_name", "locale",
	"primary_email_address_id", "notify_primary_email_address_changed",
	"primary_phone_number_id", "primary_web3_wallet_id", "username", "profile_image_id",
	"password", "password_digest", "password_hasher", "skip_password_checks",
	"sign_out_of_other_sessions", "totp_secret", "backup_codes", "public_metadata",
	"private_metadata", "unsafe_metadata", "delete_self_enabled",
	"create_organization_enabled", "legal_accepted_at", "skip_legal_checks",
	"create_organizations_limit", "created_at", "bypass_client_trust")

// updateUser answers PATCH /v1/users/{user_id}: the user with the given attributes
// replaced (metadata included, as in API version 2025-04-10).
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("user_id")
	params, ae := readParams(r, updateParams)
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	_, raw, err := s.mutate(id, func(u *User) error {
		if ae := s.applyUpdate(u, params); ae != nil {
			return ae
		}
		return nil
	})
	if err != nil {
		writeFailure(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, raw)
}

// applyUpdate applies the parameters of PATCH /v1/users/{user_id} to u.
func (s *Server) applyUpdate(u *User, params map[string]json.RawMessage) *apiError {
	for name, dst := range map[string]**string{
		"first_name": &u.FirstName, "last_name": &u.LastName, "locale": &u.Locale,
		"external_id": &u.ExternalID, "username": &u.Username,
	} {
		var v *string
		ok, ae := decodeParam(params, name, &v)
		if ae != nil {
			return ae
		}
		if ok {
			*dst = nonBlank(v)
		}
	}
	var primaryEmail, primaryPhone, password *string
	for name, dst := range map[string]any{
		"primary_email_address_id": &primaryEmail, "primary_phone_number_id": &primaryPhone,
		"password": &password, "delete_self_enabled": &u.DeleteSelfEnabled,
		"create_organization_enabled": &u.CreateOrganizationEnabled,
		"bypass_client_trust":         &u.BypassClientTrust,
		"create_organizations_limit":  &u.CreateOrganizationsLimit,
	} {
		if _, ae := decodeParam(params, name, dst); ae != nil {
			return ae
		}
	}
	if primaryEmail != nil {
		if !hasVerified(u.EmailAddresses, *primaryEmail, func(e EmailAddress) (string, *Verification) { return e.ID, e.Verification }) {
			return unprocessable("form_param_value_invalid", "primary_email_address_id", "primary_email_address_id must be a verified email address of the user")
		}
		u.PrimaryEmailAddressID = primaryEmail
	}
	if primaryPhone != nil {
		if !hasVerified(u.PhoneNumbers, *primaryPhone, func(p PhoneNumber) (string, *Verification) { return p.ID, p.Verification }) {
			return unprocessable("form_param_value_invalid", "primary_phone_number_id", "primary_phone_number_id must be a verified phone number of the user")
		}
		u.PrimaryPhoneNumberID = primaryPhone
	}
	if password != nil {
		if len(*password) < 8 {
			return unprocessable("form_password_length_too_short", "password", "Passwords must be 8 characters or more.")
		}
		u.PasswordEnabled = true
		u.PasswordLastUpdatedAt = ptr(s.now().UnixMilli())
	}
	for name, dst := range map[string]*json.RawMessage{
		"public_metadata": &u.PublicMetadata, "private_metadata": &u.PrivateMetadata, "unsafe_metadata": &u.UnsafeMetadata,
	} {
		m, ok, ae := metadataParam(params, name)
		if ae != nil {
			return ae
		}
		if ok {
			*dst = m
		}
	}
	for name, dst := range map[string]*int64{"created_at": &u.CreatedAt} {
		if ms, ok, ae := timeParam(params, name); ae != nil {
			return ae
		} else if ok {
			*dst = ms
		}
	}
	if ms, ok, ae := timeParam(params, "legal_accepted_at"); ae != nil {
		return ae
	} else if ok {
		u.LegalAcceptedAt = &ms
	}
	return nil
}

// updateMetadata answers PATCH /v1/users/{user_id}/metadata: the given metadata is
// merged into the user's, deeply, a null value removing its key.
func (s *Server) updateMetadata(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("user_id")
	params, ae := readParams(r, setOf("public_metadata", "private_metadata", "unsafe_metadata"))
	if ae != nil {
		writeError(w, ae.status, ae.err)
		return
	}
	_, raw, err := s.mutate(id, func(u *User) error {
		for name, dst := range map[string]*json.RawMessage{
			"public_metadata": &u.PublicMetadata, "private_metadata": &u.PrivateMetadata, "unsafe_metadata": &u.UnsafeMetadata,
		} {
			patch, ok, ae := metadataParam(params, name)
			if ae != nil {
				return ae
			}
			if !ok {
				continue
			}
			merged, err := mergeJSON(*dst, patch)
			if err != nil {
				return unprocessable("form_param_format_invalid", name, name+" must be an object")
			}
			*dst = merged
		}
		return nil
	})
	if err != nil {
		writeFailure(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, raw)
}

// mergeJSON merges the object patch into the object base: nested objects merge,
// null removes a key, anything else replaces.
func mergeJSON(base, patch json.RawMessage) (json.RawMessage, error) {
	var b, p map[string]any
	if len(base) > 0 {
		if err := json.Unmarshal(base, &b); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	if b == nil {
		b = map[string]any{}
	}
	mergeMaps(b, p)
	return json.Marshal(b)
}

func mergeMaps(dst, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergeMaps(dv, pv)
				continue
			}
			dst[k] = pv
		default:
			dst[k] = v
		}
	}
}

// hasVerified reports whether list has an item id whose verification is verified.
func hasVerified[T any](list []T, id string, get func(T) (string, *Verification)) bool {
	for _, item := range list {
		if itemID, v := get(item); itemID == id {
			return v != nil && v.Status == "verified"
		}
	}
	return false
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func blank(s *string) bool { return s == nil || *s == "" }

func isTrue(b *bool) bool { return b != nil && *b }

// nonBlank returns nil for a missing or empty string, which Clerk stores as null.
func nonBlank(s *string) *string {
	if blank(s) {
		return nil
	}
	v := *s
	return &v
}
