package nosplitcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Trap-context packages, relative to the module root; goContext lists the
// files of those packages that run only as goroutines.
var (
	trapPackages = []string{
		"arch/amd64", "arch/amd64/lapic", "boot", "drivers/acpi", "drivers/ioapic",
		"drivers/mmio", "drivers/pit", "drivers/rtc", "drivers/uart", "kernel", "kernel/klog", "kernel/mm",
		"kernel/mm/frames", "kernel/mm/vmrange", "kernel/sched/queue", "kernel/spin", "kernel/symtab",
	}
	goContext = map[string]bool{
		"kernel/main.go":         true, // the kernel's main goroutine
		"kernel/crash.go":        true, // deliberate crashes, called from main
		"kernel/user.go":         true, // the process layer's API to user mode
		"kernel/platform.go":     true, // what drivers (goroutines) get: DMA pages, MSIs
		"kernel/pcidev.go":       true, // PCI scan and driver probes, from main
		"kernel/entropy_feed.go": true, // the goroutine filling the entropy pool
		"kernel/profile_go.go":   true, // reading and naming the profiler's samples
	}
)

func TestTrapContextIsNosplit(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	for _, pkg := range trapPackages {
		files, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", pkg, err)
		}
		for _, file := range files {
			rel, _ := filepath.Rel(root, file)
			rel = filepath.ToSlash(rel)
			if strings.HasSuffix(file, "_test.go") || goContext[rel] {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(src), "//go:build ignore") {
				continue // generators
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue // assembly declarations
				}
				checked++
				if fn.Doc == nil || !strings.Contains(fn.Doc.Text()+commentText(fn.Doc), "go:nosplit") {
					t.Errorf("%s: func %s runs in trap context and lacks //go:nosplit", rel, fn.Name.Name)
				}
			}
		}
	}
	if checked < 200 {
		t.Fatalf("only %d functions checked: the package list is stale", checked)
	}
}

// commentText returns the raw comment lines (Text() drops directives).
func commentText(g *ast.CommentGroup) string {
	var b strings.Builder
	for _, c := range g.List {
		b.WriteString(c.Text)
		b.WriteByte('\n')
	}
	return b.String()
}
