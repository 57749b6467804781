package clerkapi

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/clerksync/clerksync"
)

// RevokeSession ends the Clerk session id (POST /sessions/{id}/revoke): its user must
// sign in again wherever that session was used. It returns an error with code
// EINVALID for an id that is not a Clerk id, and the errors of any call otherwise
// (ECONFIG for a rejected key, EUNAVAILABLE when Clerk cannot be reached).
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	op := "revoke session " + id
	if !validUserID(id) { // the same alphabet as every Clerk id
		return clerksync.Errorf(clerksync.EINVALID, "revoke session: %q is not a Clerk session id", id)
	}
	res, err := c.do(ctx, op, func(ctx context.Context) (*result, error) {
		return c.post(ctx, "/sessions/"+id+"/revoke")
	})
	if err != nil {
		return err
	}
	if res.status != http.StatusOK {
		return c.failure(op, res, "session")
	}
	return nil
}

// maxSmallBody bounds the answer to a POST: one object, such as a session.
const maxSmallBody = 1 << 20

// post sends POST path, without a body, to the Backend API and reads the answer.
func (c *Client) post(ctx context.Context, path string) (*result, error) {
	resp, err := c.send(ctx, http.MethodPost, c.baseURL+path, http.NoBody)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSmallBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxSmallBody {
		return nil, fmt.Errorf("answer larger than %d bytes", maxSmallBody)
	}
	return &result{status: resp.StatusCode, header: resp.Header, body: body}, nil
}
