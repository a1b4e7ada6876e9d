// Package readme holds the test that runs the commands of the project's
// README as written, on a clean copy of the repository.
package readme
