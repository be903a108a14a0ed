// Command sdlgen turns a GraphQL introspection result (Shopify's schemas
// as @shopify/dev-mcp ships them, dist/data/*.json.gz) into SDL that
// github.com/vektah/gqlparser/v2 loads, for the simulator's testdata:
//
//	go run ./internal/platforms/shopify/shopifytest/internal/sdlgen \
//	  -in payments-apps_2026-10.json.gz -out payments_apps_2026-10.graphql
//
// Descriptions are left out (they are most of the bytes and validation
// does not read them); deprecations are kept. gqlparser has no loader for
// introspection JSON, hence this small converter.
package main

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
)

type typeRef struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	OfType *typeRef `json:"ofType"`
}

func (t *typeRef) String() string {
	switch t.Kind {
	case "NON_NULL":
		return t.OfType.String() + "!"
	case "LIST":
		return "[" + t.OfType.String() + "]"
	}
	return t.Name
}

type inputValue struct {
	Name              string  `json:"name"`
	Type              typeRef `json:"type"`
	DefaultValue      *string `json:"defaultValue"`
	IsDeprecated      bool    `json:"isDeprecated"`
	DeprecationReason *string `json:"deprecationReason"`
}

type field struct {
	Name              string       `json:"name"`
	Args              []inputValue `json:"args"`
	Type              typeRef      `json:"type"`
	IsDeprecated      bool         `json:"isDeprecated"`
	DeprecationReason *string      `json:"deprecationReason"`
}

type enumValue struct {
	Name              string  `json:"name"`
	IsDeprecated      bool    `json:"isDeprecated"`
	DeprecationReason *string `json:"deprecationReason"`
}

type fullType struct {
	Kind          string       `json:"kind"`
	Name          string       `json:"name"`
	Fields        []field      `json:"fields"`
	InputFields   []inputValue `json:"inputFields"`
	Interfaces    []typeRef    `json:"interfaces"`
	EnumValues    []enumValue  `json:"enumValues"`
	PossibleTypes []typeRef    `json:"possibleTypes"`
}

type introspection struct {
	Data struct {
		Schema struct {
			QueryType        *struct{ Name string } `json:"queryType"`
			MutationType     *struct{ Name string } `json:"mutationType"`
			SubscriptionType *struct{ Name string } `json:"subscriptionType"`
			Types            []fullType             `json:"types"`
		} `json:"__schema"`
	} `json:"data"`
}

var builtin = map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true}

func deprecated(is bool, reason *string) string {
	if !is {
		return ""
	}
	if reason == nil {
		return " @deprecated"
	}
	return " @deprecated(reason: " + strconv.Quote(*reason) + ")"
}

func args(in []inputValue) string {
	if len(in) == 0 {
		return ""
	}
	parts := make([]string, len(in))
	for i, a := range in {
		parts[i] = inputDef(a)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func inputDef(a inputValue) string {
	s := a.Name + ": " + a.Type.String()
	if a.DefaultValue != nil {
		s += " = " + *a.DefaultValue
	}
	return s + deprecated(a.IsDeprecated, a.DeprecationReason)
}

func write(w io.Writer, in introspection) {
	s := in.Data.Schema
	fmt.Fprintln(w, "schema {")
	if s.QueryType != nil {
		fmt.Fprintf(w, "  query: %s\n", s.QueryType.Name)
	}
	if s.MutationType != nil {
		fmt.Fprintf(w, "  mutation: %s\n", s.MutationType.Name)
	}
	if s.SubscriptionType != nil {
		fmt.Fprintf(w, "  subscription: %s\n", s.SubscriptionType.Name)
	}
	fmt.Fprintln(w, "}")
	types := s.Types
	sort.Slice(types, func(i, j int) bool { return types[i].Name < types[j].Name })
	for _, t := range types {
		if strings.HasPrefix(t.Name, "__") || builtin[t.Name] {
			continue
		}
		fmt.Fprintln(w)
		switch t.Kind {
		case "SCALAR":
			fmt.Fprintf(w, "scalar %s\n", t.Name)
		case "ENUM":
			fmt.Fprintf(w, "enum %s {\n", t.Name)
			for _, v := range t.EnumValues {
				fmt.Fprintf(w, "  %s%s\n", v.Name, deprecated(v.IsDeprecated, v.DeprecationReason))
			}
			fmt.Fprintln(w, "}")
		case "UNION":
			names := make([]string, len(t.PossibleTypes))
			for i, p := range t.PossibleTypes {
				names[i] = p.Name
			}
			fmt.Fprintf(w, "union %s = %s\n", t.Name, strings.Join(names, " | "))
		case "INPUT_OBJECT":
			fmt.Fprintf(w, "input %s {\n", t.Name)
			for _, f := range t.InputFields {
				fmt.Fprintf(w, "  %s\n", inputDef(f))
			}
			fmt.Fprintln(w, "}")
		case "OBJECT", "INTERFACE":
			kw := map[string]string{"OBJECT": "type", "INTERFACE": "interface"}[t.Kind]
			impl := ""
			if len(t.Interfaces) > 0 {
				names := make([]string, len(t.Interfaces))
				for i, x := range t.Interfaces {
					names[i] = x.Name
				}
				impl = " implements " + strings.Join(names, " & ")
			}
			fmt.Fprintf(w, "%s %s%s {\n", kw, t.Name, impl)
			for _, f := range t.Fields {
				fmt.Fprintf(w, "  %s%s: %s%s\n", f.Name, args(f.Args), f.Type.String(), deprecated(f.IsDeprecated, f.DeprecationReason))
			}
			fmt.Fprintln(w, "}")
		default:
			log.Fatalf("type %s: unknown kind %s", t.Name, t.Kind)
		}
	}
}

func main() {
	inPath := flag.String("in", "", "introspection result (.json or .json.gz)")
	outPath := flag.String("out", "", "SDL file to write")
	flag.Parse()
	if *inPath == "" || *outPath == "" {
		log.Fatal("sdlgen: -in and -out are required")
	}
	f, err := os.Open(*inPath)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(*inPath, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			log.Fatal(err)
		}
		r = gz
	}
	var in introspection
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		log.Fatalf("sdlgen: %s: %v", *inPath, err)
	}
	out, err := os.Create(*outPath)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(out, "# Generated by sdlgen from %s (@shopify/dev-mcp, ISC license: see README.md). Do not edit.\n", baseName(*inPath))
	write(out, in)
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}
}

func baseName(p string) string { return p[strings.LastIndex(p, "/")+1:] }
