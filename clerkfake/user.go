// Package clerkfake speaks Clerk's Backend API from memory: builders of Clerk users,
// organizations, memberships, invitations, roles, permissions and sessions in Clerk's
// exact JSON shapes, the webhook envelopes Clerk sends about them, and an
// http.Handler that serves /v1/users and the organization endpoints like Clerk does
// (authentication, rate limits, paging, errors), with controls for tests, load
// benchmarks and the local emulator.
//
// The shapes follow Clerk's published Backend API specification (version
// 2025-04-10) and real payloads: nullable fields are pointers and marshal as null,
// timestamps are milliseconds since the Unix epoch, ids are Clerk's KSUIDs.
package clerkfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// User is a Clerk user object. Marshalled with encoding/json it gives the same JSON
// as GET /v1/users/{user_id}, field for field and in Clerk's order.
type User struct {
	Object                        string            `json:"object"`
	ID                            string            `json:"id"`
	ExternalID                    *string           `json:"external_id"`
	PrimaryEmailAddressID         *string           `json:"primary_email_address_id"`
	PrimaryPhoneNumberID          *string           `json:"primary_phone_number_id"`
	PrimaryWeb3WalletID           *string           `json:"primary_web3_wallet_id"`
	Username                      *string           `json:"username"`
	FirstName                     *string           `json:"first_name"`
	LastName                      *string           `json:"last_name"`
	Locale                        *string           `json:"locale"`
	ProfileImageURL               string            `json:"profile_image_url"`
	ImageURL                      string            `json:"image_url"`
	HasImage                      bool              `json:"has_image"`
	PublicMetadata                json.RawMessage   `json:"public_metadata"`
	PrivateMetadata               json.RawMessage   `json:"private_metadata"`
	UnsafeMetadata                json.RawMessage   `json:"unsafe_metadata"`
	EmailAddresses                []EmailAddress    `json:"email_addresses"`
	PhoneNumbers                  []PhoneNumber     `json:"phone_numbers"`
	Web3Wallets                   []Web3Wallet      `json:"web3_wallets"`
	Passkeys                      []Passkey         `json:"passkeys"`
	ExternalAccounts              []ExternalAccount `json:"external_accounts"`
	SAMLAccounts                  []json.RawMessage `json:"saml_accounts"`
	EnterpriseAccounts            []json.RawMessage `json:"enterprise_accounts"`
	PasswordEnabled               bool              `json:"password_enabled"`
	TwoFactorEnabled              bool              `json:"two_factor_enabled"`
	TOTPEnabled                   bool              `json:"totp_enabled"`
	BackupCodeEnabled             bool              `json:"backup_code_enabled"`
	MFAEnabledAt                  *int64            `json:"mfa_enabled_at"`
	MFADisabledAt                 *int64            `json:"mfa_disabled_at"`
	PasswordLastUpdatedAt         *int64            `json:"password_last_updated_at"`
	Banned                        bool              `json:"banned"`
	Locked                        bool              `json:"locked"`
	LockoutExpiresInSeconds       *int64            `json:"lockout_expires_in_seconds"`
	VerificationAttemptsRemaining *int64            `json:"verification_attempts_remaining"`
	DeleteSelfEnabled             bool              `json:"delete_self_enabled"`
	CreateOrganizationEnabled     bool              `json:"create_organization_enabled"`
	CreateOrganizationsLimit      *int64            `json:"create_organizations_limit"`
	BypassClientTrust             bool              `json:"bypass_client_trust"`
	LastSignInAt                  *int64            `json:"last_sign_in_at"`
	LastActiveAt                  *int64            `json:"last_active_at"`
	LegalAcceptedAt               *int64            `json:"legal_accepted_at"`
	CreatedAt                     int64             `json:"created_at"`
	UpdatedAt                     int64             `json:"updated_at"`
}

// EmailAddress is one of a user's email addresses.
type EmailAddress struct {
	ID                   string               `json:"id"`
	Object               string               `json:"object"`
	EmailAddress         string               `json:"email_address"`
	Reserved             bool                 `json:"reserved"`
	Verification         *Verification        `json:"verification"`
	LinkedTo             []IdentificationLink `json:"linked_to"`
	MatchesSSOConnection bool                 `json:"matches_sso_connection"`
	CreatedAt            int64                `json:"created_at"`
	UpdatedAt            int64                `json:"updated_at"`
}

// PhoneNumber is one of a user's phone numbers.
type PhoneNumber struct {
	ID                      string               `json:"id"`
	Object                  string               `json:"object"`
	PhoneNumber             string               `json:"phone_number"`
	ReservedForSecondFactor bool                 `json:"reserved_for_second_factor"`
	DefaultSecondFactor     bool                 `json:"default_second_factor"`
	Reserved                bool                 `json:"reserved"`
	Verification            *Verification        `json:"verification"`
	LinkedTo                []IdentificationLink `json:"linked_to"`
	BackupCodes             []string             `json:"backup_codes"`
	CreatedAt               int64                `json:"created_at"`
	UpdatedAt               int64                `json:"updated_at"`
}

// Web3Wallet is one of a user's web3 wallets.
type Web3Wallet struct {
	ID           string        `json:"id"`
	Object       string        `json:"object"`
	Web3Wallet   string        `json:"web3_wallet"`
	Verification *Verification `json:"verification"`
	CreatedAt    int64         `json:"created_at"`
	UpdatedAt    int64         `json:"updated_at"`
}

// Passkey is one of a user's passkeys.
type Passkey struct {
	ID           string        `json:"id"`
	Object       string        `json:"object"`
	Name         string        `json:"name"`
	LastUsedAt   int64         `json:"last_used_at"`
	Verification *Verification `json:"verification"`
}

// ExternalAccount is an account at an OAuth provider linked to the user.
type ExternalAccount struct {
	Object               string          `json:"object"`
	ID                   string          `json:"id"`
	Provider             string          `json:"provider"`
	IdentificationID     string          `json:"identification_id"`
	ProviderUserID       string          `json:"provider_user_id"`
	ApprovedScopes       string          `json:"approved_scopes"`
	EmailAddress         string          `json:"email_address"`
	EmailAddressVerified *bool           `json:"email_address_verified"`
	FirstName            string          `json:"first_name"`
	LastName             string          `json:"last_name"`
	AvatarURL            string          `json:"avatar_url"`
	ImageURL             *string         `json:"image_url"`
	Username             *string         `json:"username"`
	PhoneNumber          *string         `json:"phone_number"`
	PublicMetadata       json.RawMessage `json:"public_metadata"`
	Label                *string         `json:"label"`
	CreatedAt            int64           `json:"created_at"`
	UpdatedAt            int64           `json:"updated_at"`
	Verification         *Verification   `json:"verification"`
}

// Verification says how an email address, phone number or account was verified.
type Verification struct {
	Object   string `json:"object,omitempty"`
	Status   string `json:"status"`
	Strategy string `json:"strategy"`
	Attempts *int64 `json:"attempts"`
	ExpireAt *int64 `json:"expire_at"`
}

// IdentificationLink links an identification to another one, such as an email
// address to the OAuth account it came from.
type IdentificationLink struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// UserParams describes a user for NewUser. Every field is optional: names, the
// primary email address, the username, the image, the id and the timestamps are
// generated when missing, from Seed when it is not zero (the same Seed gives the
// same user) and randomly otherwise.
type UserParams struct {
	// Seed makes the generated parts deterministic; 0 draws them at random.
	Seed uint64

	ID         string
	FirstName  string
	LastName   string
	Username   string
	Email      string // the primary email address, verified
	Phone      string // the primary phone number, verified (E.164, such as +12125550142)
	ExternalID string
	Locale     string

	// ExtraEmails are further, unverified email addresses.
	ExtraEmails []string
	// OAuthProvider links an account at that provider ("google", "github", ...) to the
	// primary email address, which is then verified through it.
	OAuthProvider string
	// Rich gives the user what someone who has used an app for a while has: a
	// second, unverified email address, a verified phone number and a Google
	// account, each generated unless given. A rich user.updated event is about 3 KB.
	Rich bool

	PublicMetadata  json.RawMessage // {} when nil
	PrivateMetadata json.RawMessage // {} when nil
	UnsafeMetadata  json.RawMessage // {} when nil

	Banned bool
	Locked bool

	// CreatedAt defaults to the current time, or to a time derived from Seed.
	CreatedAt time.Time
	// UpdatedAt defaults to CreatedAt.
	UpdatedAt time.Time
	// LastSignInAt defaults to CreatedAt: signing up signs the user in.
	LastSignInAt time.Time
}

// seedEpoch is where generated creation times start when a Seed is given, so that a
// seeded user is the same on every run.
var seedEpoch = time.Date(2024, 5, 28, 8, 0, 0, 0, time.UTC)

// DefaultInstanceID is the Clerk instance id that NewUser and WebhookEvent use.
const DefaultInstanceID = "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S"

// NewUser returns a user built from p, filling in what p leaves out.
func NewUser(p UserParams) *User {
	rng := newRand(p.Seed)
	created := p.CreatedAt
	if created.IsZero() {
		if p.Seed != 0 {
			created = seedEpoch.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		} else {
			created = time.Now()
		}
	}
	createdMS := created.UnixMilli()
	updatedMS := createdMS
	if !p.UpdatedAt.IsZero() {
		updatedMS = p.UpdatedAt.UnixMilli()
	}
	signInMS := createdMS
	if !p.LastSignInAt.IsZero() {
		signInMS = p.LastSignInAt.UnixMilli()
	}
	// Clerk keeps last_active_at with day precision.
	activeMS := time.UnixMilli(max(signInMS, updatedMS)).UTC().Truncate(24 * time.Hour).UnixMilli()

	first := orDefault(p.FirstName, pick(rng, firstNames))
	last := orDefault(p.LastName, pick(rng, lastNames))
	id := orDefault(p.ID, newID("user_", created, rng))
	email := p.Email
	if email == "" {
		email = fmt.Sprintf("%s.%s%d@%s", asciiLower(first), asciiLower(last), rng.IntN(10000), pick(rng, emailDomains))
	}
	username := orDefault(p.Username, fmt.Sprintf("%s%s%d", asciiLower(first), asciiLower(firstRune(last)), rng.IntN(1000)))

	u := &User{
		Object:                        "user",
		ID:                            id,
		ExternalID:                    optional(p.ExternalID),
		Username:                      &username,
		FirstName:                     &first,
		LastName:                      &last,
		Locale:                        optional(p.Locale),
		ProfileImageURL:               "https://www.gravatar.com/avatar?d=mp",
		PublicMetadata:                metadataOrEmpty(p.PublicMetadata),
		PrivateMetadata:               metadataOrEmpty(p.PrivateMetadata),
		UnsafeMetadata:                metadataOrEmpty(p.UnsafeMetadata),
		EmailAddresses:                []EmailAddress{},
		PhoneNumbers:                  []PhoneNumber{},
		Web3Wallets:                   []Web3Wallet{},
		Passkeys:                      []Passkey{},
		ExternalAccounts:              []ExternalAccount{},
		SAMLAccounts:                  []json.RawMessage{},
		EnterpriseAccounts:            []json.RawMessage{},
		PasswordEnabled:               true,
		Banned:                        p.Banned,
		Locked:                        p.Locked,
		VerificationAttemptsRemaining: ptr(int64(100)),
		DeleteSelfEnabled:             true,
		CreateOrganizationEnabled:     true,
		LastSignInAt:                  &signInMS,
		LastActiveAt:                  &activeMS,
		CreatedAt:                     createdMS,
		UpdatedAt:                     updatedMS,
	}
	if p.Locked {
		u.VerificationAttemptsRemaining = ptr(int64(0))
	}
	u.ImageURL = defaultImageURL(u)

	oauth := p.OAuthProvider
	extra := p.ExtraEmails
	phone := p.Phone
	if p.Rich {
		if oauth == "" {
			oauth = "google"
		}
		if len(extra) == 0 {
			extra = []string{fmt.Sprintf("%s%s%d@%s", asciiLower(firstRune(first)), asciiLower(last), rng.IntN(100), pick(rng, emailDomains))}
		}
		if phone == "" {
			phone = fmt.Sprintf("+1%d55501%02d", 201+rng.IntN(780), rng.IntN(100))
		}
	}

	// Unverified addresses come first, as they do for a user who added the
	// address they signed up with later than an old one: decoders must pick the
	// primary address by id, not by position.
	for _, e := range extra {
		u.EmailAddresses = append(u.EmailAddresses, emailAddress(e, "unverified", created, rng))
	}
	primary := emailAddress(email, "verified", created, rng)
	if oauth != "" {
		acct := externalAccount(oauth, primary.ID, email, first, last, createdMS, created, rng)
		primary.Verification = &Verification{Object: "verification_from_oauth", Status: "verified", Strategy: "from_oauth_" + oauth, ExpireAt: nil}
		primary.LinkedTo = []IdentificationLink{{Type: acct.Provider, ID: acct.ID}}
		u.ExternalAccounts = append(u.ExternalAccounts, acct)
		u.PasswordEnabled = false
		u.HasImage = true
		u.ProfileImageURL = fmt.Sprintf("https://images.clerk.dev/%s/img_%s", acct.Provider, newID("", created, rng))
		u.ImageURL = proxyImageURL(u.ProfileImageURL)
	}
	u.EmailAddresses = append(u.EmailAddresses, primary)
	u.PrimaryEmailAddressID = &primary.ID

	if phone != "" {
		ph := PhoneNumber{
			ID:           newID("idn_", created, rng),
			Object:       "phone_number",
			PhoneNumber:  phone,
			Verification: otpVerification("verified", "phone_code", created),
			LinkedTo:     []IdentificationLink{},
			CreatedAt:    createdMS,
			UpdatedAt:    createdMS,
		}
		u.PhoneNumbers = append(u.PhoneNumbers, ph)
		u.PrimaryPhoneNumberID = &ph.ID
	}
	return u
}

// emailAddress returns an email address added at created, verified by a code or
// not (status), as Clerk shows one.
func emailAddress(address, status string, created time.Time, rng *rand.Rand) EmailAddress {
	ms := created.UnixMilli()
	return EmailAddress{
		ID:           newID("idn_", created, rng),
		Object:       "email_address",
		EmailAddress: address,
		Verification: otpVerification(status, "email_code", created),
		LinkedTo:     []IdentificationLink{},
		CreatedAt:    ms,
		UpdatedAt:    ms,
	}
}

// otpVerification returns a one-time-code verification sent at created with strategy,
// in status.
func otpVerification(status, strategy string, created time.Time) *Verification {
	return &Verification{Object: "verification_otp", Status: status, Strategy: strategy,
		Attempts: ptr(int64(1)), ExpireAt: ptr(created.UnixMilli() + 10*60*1000)}
}

// externalAccount returns an account at provider linked to the email address
// identified by emailID.
func externalAccount(provider, emailID, email, first, last string, createdMS int64, created time.Time, rng *rand.Rand) ExternalAccount {
	object := "external_account"
	switch provider {
	case "google", "facebook":
		object = provider + "_account"
	}
	avatar := fmt.Sprintf("https://lh3.googleusercontent.com/a/ACg8oc%s=s96-c", randomToken(rng, 40))
	scopes := "email https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid profile"
	if provider != "google" {
		avatar = fmt.Sprintf("https://avatars.example.com/%s/%d", provider, rng.IntN(1e8))
		scopes = "email profile"
	}
	image := proxyImageURL(avatar)
	return ExternalAccount{
		Object:               object,
		ID:                   newID("idn_", created, rng),
		Provider:             "oauth_" + provider,
		IdentificationID:     emailID,
		ProviderUserID:       fmt.Sprintf("1%020d", rng.Uint64()%1e18),
		ApprovedScopes:       scopes,
		EmailAddress:         email,
		EmailAddressVerified: ptr(true),
		FirstName:            first,
		LastName:             last,
		AvatarURL:            avatar,
		ImageURL:             &image,
		PublicMetadata:       json.RawMessage(`{}`),
		CreatedAt:            createdMS,
		UpdatedAt:            createdMS,
		Verification:         &Verification{Object: "verification_oauth", Status: "verified", Strategy: "oauth_" + provider, ExpireAt: ptr(createdMS + 10*60*1000)},
	}
}

// defaultImageURL returns the img.clerk.com address of the initials avatar Clerk
// shows for a user without an image.
func defaultImageURL(u *User) string {
	initials := ""
	if u.FirstName != nil {
		initials += firstRune(*u.FirstName)
	}
	if u.LastName != nil {
		initials += firstRune(*u.LastName)
	}
	doc := `{"type":"default","iid":` + jsonString(DefaultInstanceID) + `,"rid":` + jsonString(u.ID) + `,"initials":` + jsonString(initials) + `}`
	return "https://img.clerk.com/" + base64.RawURLEncoding.EncodeToString([]byte(doc))
}

// proxyImageURL returns the img.clerk.com address that proxies src.
func proxyImageURL(src string) string {
	doc := `{"type":"proxy","src":` + jsonString(src) + `}`
	return "https://img.clerk.com/" + base64.RawURLEncoding.EncodeToString([]byte(doc))
}

// jsonString returns s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// randomToken returns n random base62 characters.
func randomToken(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base62[rng.IntN(len(base62))]
	}
	return string(b)
}

// firstRune returns the first character of s, or "" for "".
func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// asciiLower returns s in lower case with accents dropped and anything but letters
// and digits removed, for the local part of a generated email address.
func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("àáâãäå", r):
			b.WriteByte('a')
		case strings.ContainsRune("èéêë", r):
			b.WriteByte('e')
		case strings.ContainsRune("ìíîï", r):
			b.WriteByte('i')
		case strings.ContainsRune("òóôõöø", r):
			b.WriteByte('o')
		case strings.ContainsRune("ùúûü", r):
			b.WriteByte('u')
		case r == 'ñ':
			b.WriteByte('n')
		case r == 'ç':
			b.WriteByte('c')
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// optional returns nil for "", which Clerk sends as null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ptr[T any](v T) *T { return &v }

func metadataOrEmpty(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage(`{}`)
	}
	return append(json.RawMessage(nil), m...)
}

var firstNames = []string{
	"Ava", "Liam", "Olivia", "Noah", "Emma", "Oliver", "Amelia", "Elijah", "Sophia", "Mateo",
	"Isabella", "Lucas", "Mia", "Levi", "Charlotte", "Asher", "Harper", "James", "Evelyn", "Leo",
	"Aisha", "Hiroshi", "Priya", "Chen", "Fatima", "Lars", "Ingrid", "Kofi", "Nadia", "Tomás",
	"Zoe", "Ravi", "Yuki", "Omar", "Elena", "Diego", "Sara", "Jonas", "Maya", "Felix",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Nguyen", "Kim", "Patel", "Müller", "Rossi", "Tanaka", "Okafor", "Novak", "Silva", "Dubois",
	"Andersen", "Kowalski", "Haddad", "Cohen", "Ivanova", "Moreau", "Fischer", "Lopez", "Wright", "Clarke",
}

// emailDomains are reserved for documentation (RFC 2606), so a generated address
// never reaches a real person.
var emailDomains = []string{"example.com", "example.org", "example.net", "mail.example.com"}
