package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/restguard/restguard/config"
)

// TestEveryKeyIsDocumented: every key the configuration file accepts is
// named in docs/ (as `key`, `parent.key` or key:), so that a key added to
// config/ without its documentation fails here (issue 12: docs that agree).
func TestEveryKeyIsDocumented(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatal("no docs", err)
	}
	var docs strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(b)
	}
	text := docs.String()
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if key == "" || key == "-" {
				continue
			}
			if !strings.Contains(text, "`"+key) && !strings.Contains(text, "."+key+"`") && !strings.Contains(text, key+":") {
				t.Errorf("%s%s is in no docs/*.md: document it in docs/configuration.md", path, key)
			}
			walk(path+key+".", f.Type)
		}
	}
	walk("", reflect.TypeOf(config.Config{}))
}
