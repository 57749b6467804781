package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// addrFromEnv turns PORT into a listen address (":3000" by default). PORT may be a
// port, such as 8080, or host:port, such as 127.0.0.1:8080.
func addrFromEnv(getenv func(string) string) string {
	p := strings.TrimSpace(getenv("PORT"))
	switch {
	case p == "":
		return ":3000"
	case strings.Contains(p, ":"):
		return p
	}
	return ":" + p
}

// checkAddr checks a listen address before anything is opened, so that PORT=abc is
// reported as what it is rather than as a failure to listen. setting and value say
// where the address came from (PORT and its value, or --addr), for the error.
func checkAddr(setting, value, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return usagef("%s %q is not a port or host:port: use a number from 1 to 65535, such as 3000, or host:port, such as 127.0.0.1:3000", setting, value)
	}
	return nil
}

// addrSetting returns the name and the value of the setting addr came from: --addr
// when the flag was given, else PORT.
func addrSetting(flagGiven bool, addr string, getenv func(string) string) (string, string) {
	if flagGiven {
		return "--addr", addr
	}
	return "PORT", strings.TrimSpace(getenv("PORT"))
}

// listenError explains why listening on addr failed, with the fix that fits the cause.
func listenError(addr string, err error) error {
	hint := "set PORT or --addr to another address"
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = "another process is using the port: stop it, or set PORT or --addr to another port"
	case errors.Is(err, syscall.EACCES):
		hint = "ports below 1024 need privileges this process does not have: use a port from 1024 up, such as PORT=3000"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = "this machine has no such address: listen on one of its own, or on :PORT for all of them"
	}
	return fmt.Errorf("listen on %s: %w (%s)", addr, err, hint)
}
