package postgres

import (
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"
)

// The arrays the batch statements take (text[] and bigint[] for unnest). pgx encodes a
// slice by boxing each element into an interface, by reflection for a type it has no
// fast path for ([]pgtype.Text) and through its FlatArray for one it has ([]string):
// an allocation per element, some fifty per delivery. An array instead hands pgx each
// element as a ref, a pointer-shaped struct that an interface holds without
// allocating, which pgx encodes through the TextValuer and Int64Valuer interfaces.
type (
	textArray   = array[pgtype.Text] // text[], NULL where Valid is false
	stringArray = array[string]      // text[] without NULLs
	int8Array   = array[pgtype.Int8] // bigint[], NULL where Valid is false
	int64Array  = array[int64]       // bigint[] without NULLs
)

// array is a one-dimensional PostgreSQL array of string, pgtype.Text, int64 or
// pgtype.Int8 values.
type array[E any] []E

// Dimensions implements pgtype.ArrayGetter.
func (a array[E]) Dimensions() []pgtype.ArrayDimension {
	if a == nil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(len(a)), LowerBound: 1}}
}

// Index implements pgtype.ArrayGetter.
func (a array[E]) Index(i int) any { return ref[E]{&a[i]} }

// IndexType implements pgtype.ArrayGetter.
func (a array[E]) IndexType() any { return ref[E]{} }

// ref is one element of an array.
type ref[E any] struct{ p *E }

// TextValue implements pgtype.TextValuer.
func (r ref[E]) TextValue() (pgtype.Text, error) {
	switch v := any(r.p).(type) {
	case *string:
		return pgtype.Text{String: *v, Valid: true}, nil
	case *pgtype.Text:
		return *v, nil
	case *int64:
		return pgtype.Text{String: strconv.FormatInt(*v, 10), Valid: true}, nil
	case *pgtype.Int8:
		return pgtype.Text{String: strconv.FormatInt(v.Int64, 10), Valid: v.Valid}, nil
	}
	return pgtype.Text{}, fmt.Errorf("an array of %T is not text", r.p)
}

// Int64Value implements pgtype.Int64Valuer.
func (r ref[E]) Int64Value() (pgtype.Int8, error) {
	switch v := any(r.p).(type) {
	case *int64:
		return pgtype.Int8{Int64: *v, Valid: true}, nil
	case *pgtype.Int8:
		return *v, nil
	}
	return pgtype.Int8{}, fmt.Errorf("an array of %T is not of integers", r.p)
}
