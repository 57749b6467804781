// Command hello is what the buildref tests build at an old commit that does not have
// it: it exists there only by the overlay.
package main

import "fmt"

func main() { fmt.Println("hello from the overlay") }
