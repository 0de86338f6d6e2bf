package hastconf

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// manPage is hast.conf(5), relative to this package.
const manPage = "../../man/hast.conf.5"

// TestManPageHasEveryKeyword checks that hast.conf(5) documents every word
// the parser accepts: HAST's reserved words (the lexer's table), the
// words of the frontend values, and every word the parser compares a
// token's text with (the cluster section's keywords and values, cluster,
// nbd, frontend, syncrate), read from this package's source so that a new
// keyword cannot be added without its documentation.
func TestManPageHasEveryKeyword(t *testing.T) {
	data, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatal(err)
	}
	words := macroWords(string(data))

	want := map[string]string{}
	for kw := range keywords {
		want[kw] = "the lexer's reserved words"
	}
	for _, f := range Frontends {
		want[f] = "Frontends"
	}
	for _, w := range []string{OnNoQuorumSuspend.String(), OnNoQuorumError.String(), DefaultProfile} {
		want[w] = "the cluster section's values"
	}
	for w, where := range textComparisons(t) {
		want[w] = where
	}
	// The parser's words must have been found at all, or this test checks
	// nothing of the cluster section.
	for _, w := range []string{"cluster", "nbd", "frontend", "syncrate", "failover", "lease", "on-no-quorum",
		"profile", "fence-agent", "tls-cert", "tls-key", "tls-ca", "gossip-key", "witness", "raft", "gossip",
		"statedir", "fast"} {
		if _, ok := want[w]; !ok {
			t.Errorf("the source scan did not find keyword %q: update textComparisons", w)
		}
	}

	var missing []string
	for w, where := range want {
		if !words[w] {
			missing = append(missing, w+" (from "+where+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%s does not document keyword %s", manPage, m)
	}
}

// macroWords returns the words of the man page's macro lines (those
// starting with '.'), with the escaped minus \- read as '-'.
func macroWords(page string) map[string]bool {
	words := map[string]bool{}
	for line := range strings.SplitSeq(page, "\n") {
		if !strings.HasPrefix(line, ".") {
			continue
		}
		for _, w := range strings.Fields(strings.ReplaceAll(line, `\-`, "-")) {
			words[strings.TrimRight(w, ".,;:")] = true
		}
	}
	return words
}

// textComparisons returns the string constants this package's parser
// compares a token's text with (`switch x.text { case "lease": ... }`,
// `x.text == "raft"`, `x.text != "fast"`, constants such as nbdKeyword
// included), each with the file it was found in.
func textComparisons(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	var parsed []*ast.File
	consts := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != gotoken.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if s, ok := stringLit(vs.Values[i]); ok {
							consts[n.Name] = s
						}
					}
				}
			}
		}
	}
	value := func(e ast.Expr) (string, bool) {
		if s, ok := stringLit(e); ok {
			return s, true
		}
		if id, ok := e.(*ast.Ident); ok {
			s, ok := consts[id.Name]
			return s, ok
		}
		return "", false
	}
	isText := func(e ast.Expr) bool {
		sel, ok := e.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "text"
	}
	found := map[string]string{}
	for _, f := range parsed {
		where := fset.Position(f.Pos()).Filename
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SwitchStmt:
				if n.Tag == nil || !isText(n.Tag) {
					return true
				}
				for _, stmt := range n.Body.List {
					for _, e := range stmt.(*ast.CaseClause).List {
						if s, ok := value(e); ok {
							found[s] = where
						}
					}
				}
			case *ast.BinaryExpr:
				if n.Op != gotoken.EQL && n.Op != gotoken.NEQ {
					return true
				}
				for _, pair := range [][2]ast.Expr{{n.X, n.Y}, {n.Y, n.X}} {
					if isText(pair[0]) {
						if s, ok := value(pair[1]); ok {
							found[s] = where
						}
					}
				}
			}
			return true
		})
	}
	return found
}

// stringLit returns the value of a string literal.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != gotoken.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// TestManPageWordsAreKeywords checks the other direction for the cluster
// section: every keyword hast.conf(5) lists with .It Ic in its cluster
// section is one the parser knows.
func TestManPageWordsAreKeywords(t *testing.T) {
	data, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatal(err)
	}
	known := textComparisons(t)
	for kw := range keywords {
		known[kw] = "keywords"
	}
	re := regexp.MustCompile(`(?m)^\.It Ic (\S+)`)
	for _, m := range re.FindAllStringSubmatch(strings.ReplaceAll(string(data), `\-`, "-"), -1) {
		if _, ok := known[m[1]]; !ok {
			t.Errorf("%s documents keyword %q, which the parser does not accept", manPage, m[1])
		}
	}
}
