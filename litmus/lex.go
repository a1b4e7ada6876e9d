package litmus

import (
	"fmt"
	"strings"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tPunct
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	if t.kind == tEOF {
		return "end of file"
	}
	return fmt.Sprintf("%q", t.text)
}

// lexer splits the text into tokens on demand. C comments are skipped
// everywhere; herd's (* ... *) comments only outside thread bodies
// (ocaml), where "(*" cannot begin a dereference.
type lexer struct {
	src   string
	pos   int
	line  int
	ocaml bool
}

// puncts are the multi-character operators, longest first.
var puncts = []string{"/\\", "\\/", "==", "!=", "<=", ">=", "&&", "||", "->"}

func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	if l.pos >= len(l.src) {
		return token{kind: tEOF, line: l.line}, nil
	}
	start, c := l.pos, l.src[l.pos]
	switch {
	case isLetter(c):
		for l.pos < len(l.src) && (isLetter(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		return token{tIdent, l.src[start:l.pos], l.line}, nil
	case isDigit(c):
		for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || isLetter(l.src[l.pos])) {
			l.pos++
		}
		return token{tInt, l.src[start:l.pos], l.line}, nil
	}
	for _, p := range puncts {
		if strings.HasPrefix(l.src[l.pos:], p) {
			l.pos += len(p)
			return token{tPunct, p, l.line}, nil
		}
	}
	if strings.ContainsRune("(){}[];,*&=<>+-^|!~:.%/", rune(c)) {
		l.pos++
		return token{tPunct, string(c), l.line}, nil
	}
	return token{}, fmt.Errorf("line %d: unexpected character %q", l.line, c)
}

// skip passes white space and comments.
func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		rest := l.src[l.pos:]
		switch {
		case rest[0] == '\n':
			l.line++
			l.pos++
		case rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r':
			l.pos++
		case strings.HasPrefix(rest, "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(rest, "/*"):
			if err := l.comment("/*", "*/"); err != nil {
				return err
			}
		case l.ocaml && strings.HasPrefix(rest, "(*"):
			if err := l.comment("(*", "*)"); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) comment(open, close string) error {
	line := l.line
	end := strings.Index(l.src[l.pos+len(open):], close)
	if end < 0 {
		return fmt.Errorf("line %d: comment %s not closed", line, open)
	}
	text := l.src[l.pos : l.pos+len(open)+end+len(close)]
	l.line += strings.Count(text, "\n")
	l.pos += len(text)
	return nil
}

func isLetter(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
