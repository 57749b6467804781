package postgres

import "github.com/jackc/pgx/v5/pgtype"

// The arrays of nullable values the batch statements take (text[] and bigint[] for
// unnest). pgx encodes a slice of a type it has no fast path for, such as
// []pgtype.Text, by reflection, boxing every element into an interface: an allocation
// per element, some thirty per delivery. These hand pgx each element as a
// pointer-shaped reference instead, which an interface holds without allocating, and
// which pgx encodes through the TextValuer and Int64Valuer interfaces.

// textArray is a text[] whose elements may be NULL (Valid false).
type textArray []pgtype.Text

// Dimensions implements pgtype.ArrayGetter.
func (a textArray) Dimensions() []pgtype.ArrayDimension {
	if a == nil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(len(a)), LowerBound: 1}}
}

// Index implements pgtype.ArrayGetter.
func (a textArray) Index(i int) any { return textRef{&a[i]} }

// IndexType implements pgtype.ArrayGetter.
func (a textArray) IndexType() any { return textRef{} }

// textRef is one element of a textArray.
type textRef struct{ p *pgtype.Text }

// TextValue implements pgtype.TextValuer.
func (r textRef) TextValue() (pgtype.Text, error) { return *r.p, nil }

// int8Array is a bigint[] whose elements may be NULL (Valid false).
type int8Array []pgtype.Int8

// Dimensions implements pgtype.ArrayGetter.
func (a int8Array) Dimensions() []pgtype.ArrayDimension {
	if a == nil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(len(a)), LowerBound: 1}}
}

// Index implements pgtype.ArrayGetter.
func (a int8Array) Index(i int) any { return int8Ref{&a[i]} }

// IndexType implements pgtype.ArrayGetter.
func (a int8Array) IndexType() any { return int8Ref{} }

// int8Ref is one element of an int8Array.
type int8Ref struct{ p *pgtype.Int8 }

// Int64Value implements pgtype.Int64Valuer.
func (r int8Ref) Int64Value() (pgtype.Int8, error) { return *r.p, nil }
