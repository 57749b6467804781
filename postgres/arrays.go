package postgres

import "github.com/jackc/pgx/v5/pgtype"

// The arrays the batch statements take (text[] and bigint[] for unnest). pgx encodes a
// slice by boxing each element into an interface, by reflection for a type it has no
// fast path for ([]pgtype.Text) and through its FlatArray for one it has ([]string):
// an allocation per element, some fifty per delivery. These hand pgx each element as
// a pointer-shaped reference instead, which an interface holds without allocating, and
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

// stringArray is a text[] without NULLs. pgx's own fast path for []string boxes each
// element too.
type stringArray []string

// Dimensions implements pgtype.ArrayGetter.
func (a stringArray) Dimensions() []pgtype.ArrayDimension {
	if a == nil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(len(a)), LowerBound: 1}}
}

// Index implements pgtype.ArrayGetter.
func (a stringArray) Index(i int) any { return stringRef{&a[i]} }

// IndexType implements pgtype.ArrayGetter.
func (a stringArray) IndexType() any { return stringRef{} }

// stringRef is one element of a stringArray.
type stringRef struct{ p *string }

// TextValue implements pgtype.TextValuer.
func (r stringRef) TextValue() (pgtype.Text, error) { return pgtype.Text{String: *r.p, Valid: true}, nil }

// int64Array is a bigint[] without NULLs.
type int64Array []int64

// Dimensions implements pgtype.ArrayGetter.
func (a int64Array) Dimensions() []pgtype.ArrayDimension {
	if a == nil {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(len(a)), LowerBound: 1}}
}

// Index implements pgtype.ArrayGetter.
func (a int64Array) Index(i int) any { return int64Ref{&a[i]} }

// IndexType implements pgtype.ArrayGetter.
func (a int64Array) IndexType() any { return int64Ref{} }

// int64Ref is one element of an int64Array.
type int64Ref struct{ p *int64 }

// Int64Value implements pgtype.Int64Valuer.
func (r int64Ref) Int64Value() (pgtype.Int8, error) { return pgtype.Int8{Int64: *r.p, Valid: true}, nil }
