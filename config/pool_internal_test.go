package config

import (
	"encoding"
	"encoding/json"
	"reflect"
	"testing"
)

// TestFingerprintCoversEveryProviderField: the pool's fingerprint is the
// decoded Provider encoded as JSON (and the secret's hash). A field that
// JSON does not encode faithfully (unexported, a func, a channel, an
// interface, a custom marshaler) would make two different configurations
// look equal, and a reload would reuse a provider with the old settings
// (seams item 18). A new field of such a type must change fingerprint.
func TestFingerprintCoversEveryProviderField(t *testing.T) {
	t.Parallel()
	marshaler := reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshaler := reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		if typ.Implements(marshaler) || typ.Implements(textMarshaler) {
			t.Errorf("%s: %s has its own JSON encoding; make sure it encodes every value, then allow it here", path, typ)
			return
		}
		switch typ.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(path+"[]", typ.Elem())
		case reflect.Map:
			walk(path+"{key}", typ.Key())
			walk(path+"{}", typ.Elem())
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				switch {
				case typ == reflect.TypeOf(Secret{}) && (f.Name == "line" || f.Name == "invalid"):
					// the position of the key, for error messages, and a
					// parse failure, which never reaches a pool
				case !f.IsExported():
					t.Errorf("%s.%s: unexported, so not in the fingerprint", path, f.Name)
				case f.Tag.Get("json") == "-":
					t.Errorf("%s.%s: json:\"-\", so not in the fingerprint", path, f.Name)
				default:
					walk(path+"."+f.Name, f.Type)
				}
			}
		default:
			t.Errorf("%s: a %s cannot be fingerprinted", path, typ.Kind())
		}
	}
	walk("Provider", reflect.TypeOf(Provider{}))
}
