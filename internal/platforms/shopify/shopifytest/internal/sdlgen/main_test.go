package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// A small introspection result with every kind the converter handles.
const sample = `{"data":{"__schema":{"queryType":{"name":"QueryRoot"},"mutationType":{"name":"MutationRoot"},"subscriptionType":null,"types":[
 {"kind":"OBJECT","name":"QueryRoot","fields":[{"name":"node","args":[{"name":"id","type":{"kind":"NON_NULL","ofType":{"kind":"SCALAR","name":"ID"}}}],"type":{"kind":"INTERFACE","name":"Node"}}],"interfaces":[]},
 {"kind":"OBJECT","name":"MutationRoot","fields":[{"name":"act","args":[{"name":"input","type":{"kind":"NON_NULL","ofType":{"kind":"INPUT_OBJECT","name":"ActInput"}}},{"name":"n","type":{"kind":"SCALAR","name":"Int"},"defaultValue":"3"}],"type":{"kind":"UNION","name":"Outcome"}}],"interfaces":[]},
 {"kind":"INTERFACE","name":"Node","fields":[{"name":"id","args":[],"type":{"kind":"NON_NULL","ofType":{"kind":"SCALAR","name":"ID"}}}]},
 {"kind":"OBJECT","name":"Done","fields":[{"name":"id","args":[],"type":{"kind":"NON_NULL","ofType":{"kind":"SCALAR","name":"ID"}}},{"name":"codes","args":[],"type":{"kind":"LIST","ofType":{"kind":"NON_NULL","ofType":{"kind":"ENUM","name":"Code"}}}},{"name":"old","args":[],"type":{"kind":"SCALAR","name":"String"},"isDeprecated":true,"deprecationReason":"Use \"id\"."}],"interfaces":[{"kind":"INTERFACE","name":"Node"}]},
 {"kind":"OBJECT","name":"Failed","fields":[{"name":"why","args":[],"type":{"kind":"SCALAR","name":"String"}}],"interfaces":[]},
 {"kind":"UNION","name":"Outcome","possibleTypes":[{"kind":"OBJECT","name":"Done"},{"kind":"OBJECT","name":"Failed"}]},
 {"kind":"ENUM","name":"Code","enumValues":[{"name":"A"},{"name":"B","isDeprecated":true,"deprecationReason":null}]},
 {"kind":"INPUT_OBJECT","name":"ActInput","inputFields":[{"name":"code","type":{"kind":"ENUM","name":"Code"},"defaultValue":"A"},{"name":"at","type":{"kind":"SCALAR","name":"DateTime"}}]},
 {"kind":"SCALAR","name":"DateTime"},{"kind":"SCALAR","name":"String"},{"kind":"SCALAR","name":"ID"},{"kind":"SCALAR","name":"Int"},
 {"kind":"OBJECT","name":"__Type","fields":[],"interfaces":[]}
]}}}`

func TestWrite(t *testing.T) {
	var in introspection
	if err := json.Unmarshal([]byte(sample), &in); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	write(&b, in)
	sdl := b.String()
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "sample.graphql", Input: sdl})
	if err != nil {
		t.Fatalf("%v\n%s", err, sdl)
	}
	for _, want := range []string{"type Done implements Node {", `old: String @deprecated(reason: "Use \"id\".")`, "B @deprecated\n",
		"act(input: ActInput!, n: Int = 3): Outcome", "union Outcome = Done | Failed", "code: Code = A", "codes: [Code!]"} {
		if !strings.Contains(sdl, want) {
			t.Errorf("SDL lacks %q:\n%s", want, sdl)
		}
	}
	if strings.Contains(sdl, "__Type") || strings.Contains(sdl, "scalar String") {
		t.Errorf("introspection or built-in types written:\n%s", sdl)
	}
	ok := `mutation { act(input: {code: B}) { __typename ... on Done { id codes } ... on Failed { why } } }`
	if _, errs := gqlparser.LoadQueryWithRules(schema, ok, nil); len(errs) > 0 {
		t.Fatalf("valid query refused: %v", errs)
	}
	bad := `mutation { act(input: {code: C}) { __typename } }`
	if _, errs := gqlparser.LoadQueryWithRules(schema, bad, nil); len(errs) == 0 {
		t.Fatal("an unknown enum value passed")
	}
}
