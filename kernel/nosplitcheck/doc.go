// Package nosplitcheck holds only a test: it checks the rule of
// docs/conventions.md that every function of the packages (and files) that
// run in trap context carries //go:nosplit, since such code runs on a
// per-CPU stack with somebody else's g, where a stack-growth check would
// misfire.
package nosplitcheck
