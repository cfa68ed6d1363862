// Package enginerun holds no code, only tests of an Engine's life inside
// one process against one API server: that starting and stopping engines
// leaves no goroutine behind, that two engines at once keep their metrics
// apart, and that a store failing for a while does not stop an engine.
// They need a process of their own (goroutine counts), so they are not in
// the root package's tests, which share one running engine.
package enginerun
