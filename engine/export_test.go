package engine

// WaitingForRoom reports whether the writer holds a request and waits for room in the
// pipeline, so that tests can tell it from a writer still on its way there.
func (e *Engine) WaitingForRoom() bool { return e.roomWait.Load() }
