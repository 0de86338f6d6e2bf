package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// manDir holds the manual pages, relative to this package.
const manDir = "../../man"

// commands returns the commands hastctl knows: the string cases of the
// switch on the command name in run (main.go), options such as -h left
// out. hastctl has no command table, so the switch is read from source.
func commands(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "run" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if !ok {
				return true
			}
			if id, ok := sw.Tag.(*ast.Ident); !ok || id.Name != "cmd" {
				return true
			}
			for _, stmt := range sw.Body.List {
				for _, e := range stmt.(*ast.CaseClause).List {
					lit, ok := e.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					name, err := strconv.Unquote(lit.Value)
					if err == nil && !strings.HasPrefix(name, "-") {
						cmds = append(cmds, name)
					}
				}
			}
			return false
		})
	}
	if len(cmds) < 7 {
		t.Fatalf("found only the commands %v in run's switch on cmd in main.go: update this test", cmds)
	}
	return cmds
}

// TestManPageHasEveryCommand checks that hastctl(8) documents every
// command hastctl accepts, as a .Cm macro or in its SYNOPSIS, and every
// option its usage message shows, as a .Fl macro.
func TestManPageHasEveryCommand(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(manDir, "hastctl.8"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	synopsis := page
	if _, after, ok := strings.Cut(page, "\n.Sh SYNOPSIS\n"); ok {
		synopsis, _, _ = strings.Cut(after, "\n.Sh ")
	}
	for _, cmd := range commands(t) {
		cm := regexp.MustCompile(`(?m)^\..*\bCm ` + regexp.QuoteMeta(cmd) + `(\s|$)`)
		word := regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(cmd) + `(\s|$)`)
		if !cm.MatchString(page) && !word.MatchString(synopsis) {
			t.Errorf("hastctl.8 does not document command %q (no .Cm %s, not in the SYNOPSIS)", cmd, cmd)
		}
	}
	for _, m := range regexp.MustCompile(`\[-([a-zA-Z])\]|\[-([a-zA-Z]) `).FindAllStringSubmatch(usageText, -1) {
		flag := m[1] + m[2]
		if !regexp.MustCompile(`(?m)^\..*\bFl ` + flag + `(\s|$)`).MatchString(page) {
			t.Errorf("hastctl.8 does not document option -%s of the usage message", flag)
		}
	}
}

// TestManPagesLint runs mandoc -T lint -W warning on every manual page
// and fails on any message. It is skipped where mandoc is not installed.
func TestManPagesLint(t *testing.T) {
	mandoc, err := exec.LookPath("mandoc")
	if err != nil {
		t.Skip("mandoc is not installed")
	}
	pages, err := filepath.Glob(filepath.Join(manDir, "*.[1-9]"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hastd.8", "hastctl.8", "hast.conf.5", "hast-witness.8"} {
		if _, err := os.Stat(filepath.Join(manDir, want)); err != nil {
			t.Errorf("manual page %s: %v", want, err)
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(mandoc, append([]string{"-T", "lint", "-W", "warning"}, pages...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if out.Len() > 0 || err != nil {
		t.Errorf("mandoc -T lint -W warning %s: %v\n%s", strings.Join(pages, " "), err, out.String())
	}
}
