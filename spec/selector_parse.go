package spec

import (
	"fmt"
	"strings"
)

// ParseLabelSelector parses Kubernetes' string form of a label selector
// (kubectl -l, the API's ?labelSelector=): comma-separated requirements,
// each "key", "!key", "key=value", "key==value", "key!=value",
// "key in (v1,v2)" or "key notin (v1,v2)", with optional blanks between
// tokens. It returns them as MatchExpressions, so that Matches has the
// meaning Kubernetes gives them: "!=" and notin also select objects without
// the key. "" selects everything. The set-based comparisons Kubernetes
// allows only on nodes ("key>1", "key<1") are refused, as is any key or
// value that is not a valid label key or value.
func ParseLabelSelector(s string) (*LabelSelector, error) {
	p := &selectorParser{lex: selectorLexer{in: s}}
	sel := &LabelSelector{}
	p.next()
	if p.tok.kind == tokEOF {
		return sel, nil
	}
	for {
		r, err := p.requirement()
		if err != nil {
			return nil, fmt.Errorf("invalid label selector %q: %w", s, err)
		}
		sel.MatchExpressions = append(sel.MatchExpressions, r)
		switch p.tok.kind {
		case tokEOF:
			return sel, nil
		case tokComma:
			p.next()
		default:
			return nil, fmt.Errorf("invalid label selector %q: %s", s, p.unexpected("',' or the end"))
		}
	}
}

// Token kinds of the selector lexer: Kubernetes' (labels/selector.go).
const (
	tokEOF = iota
	tokIdent
	tokNot       // !
	tokNotEquals // !=
	tokEquals    // =
	tokDouble    // ==
	tokOpen      // (
	tokClose     // )
	tokComma     // ,
	tokGreater   // >
	tokLess      // <
)

type selectorToken struct {
	kind int
	text string
	pos  int // byte offset, for messages
}

type selectorLexer struct {
	in  string
	pos int
}

// isSelectorSpecial reports whether c ends an identifier.
func isSelectorSpecial(c byte) bool {
	return strings.IndexByte("!=(),><", c) >= 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func (l *selectorLexer) next() selectorToken {
	for l.pos < len(l.in) && (l.in[l.pos] == ' ' || l.in[l.pos] == '\t' || l.in[l.pos] == '\n' || l.in[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.in) {
		return selectorToken{kind: tokEOF, pos: start}
	}
	two := ""
	if l.pos+1 < len(l.in) {
		two = l.in[l.pos : l.pos+2]
	}
	switch {
	case two == "!=":
		l.pos += 2
		return selectorToken{kind: tokNotEquals, text: two, pos: start}
	case two == "==":
		l.pos += 2
		return selectorToken{kind: tokDouble, text: two, pos: start}
	}
	single := map[byte]int{'!': tokNot, '=': tokEquals, '(': tokOpen, ')': tokClose, ',': tokComma, '>': tokGreater, '<': tokLess}
	if k, ok := single[l.in[l.pos]]; ok {
		l.pos++
		return selectorToken{kind: k, text: l.in[start:l.pos], pos: start}
	}
	for l.pos < len(l.in) && !isSelectorSpecial(l.in[l.pos]) {
		l.pos++
	}
	return selectorToken{kind: tokIdent, text: l.in[start:l.pos], pos: start}
}

type selectorParser struct {
	lex selectorLexer
	tok selectorToken
}

func (p *selectorParser) next() { p.tok = p.lex.next() }

func (p *selectorParser) unexpected(want string) string {
	if p.tok.kind == tokEOF {
		return fmt.Sprintf("found the end, want %s", want)
	}
	return fmt.Sprintf("at position %d: found %q, want %s", p.tok.pos, p.tok.text, want)
}

// requirement parses one requirement and leaves the token after it.
func (p *selectorParser) requirement() (LabelSelectorRequirement, error) {
	if p.tok.kind == tokNot {
		p.next()
		key, err := p.key()
		if err != nil {
			return LabelSelectorRequirement{}, err
		}
		return LabelSelectorRequirement{Key: key, Operator: LabelSelectorOpDoesNotExist}, nil
	}
	key, err := p.key()
	if err != nil {
		return LabelSelectorRequirement{}, err
	}
	switch p.tok.kind {
	case tokEOF, tokComma:
		return LabelSelectorRequirement{Key: key, Operator: LabelSelectorOpExists}, nil
	case tokEquals, tokDouble, tokNotEquals:
		op := LabelSelectorOpIn
		if p.tok.kind == tokNotEquals {
			op = LabelSelectorOpNotIn
		}
		p.next()
		v := ""
		switch p.tok.kind {
		case tokIdent:
			v = p.tok.text
			p.next()
		case tokEOF, tokComma: // "key=" selects the empty value
		default:
			return LabelSelectorRequirement{}, fmt.Errorf("%s", p.unexpected("a value"))
		}
		if msg := isLabelValue(v); msg != "" {
			return LabelSelectorRequirement{}, fmt.Errorf("value %q of %s: %s", v, key, msg)
		}
		return LabelSelectorRequirement{Key: key, Operator: op, Values: []string{v}}, nil
	case tokIdent:
		var op string
		switch p.tok.text {
		case "in":
			op = LabelSelectorOpIn
		case "notin":
			op = LabelSelectorOpNotIn
		default:
			return LabelSelectorRequirement{}, fmt.Errorf("%s", p.unexpected("an operator (=, ==, !=, in, notin)"))
		}
		p.next()
		values, err := p.values()
		if err != nil {
			return LabelSelectorRequirement{}, fmt.Errorf("%s %s: %w", key, strings.ToLower(op), err)
		}
		return LabelSelectorRequirement{Key: key, Operator: op, Values: values}, nil
	case tokGreater, tokLess:
		return LabelSelectorRequirement{}, fmt.Errorf("at position %d: the operator %q is not supported in a label selector (Kubernetes allows it only in node affinity)", p.tok.pos, p.tok.text)
	}
	return LabelSelectorRequirement{}, fmt.Errorf("%s", p.unexpected("an operator (=, ==, !=, in, notin), ',' or the end"))
}

// key parses a label key.
func (p *selectorParser) key() (string, error) {
	if p.tok.kind != tokIdent {
		return "", fmt.Errorf("%s", p.unexpected("a label key"))
	}
	k := p.tok.text
	if msg := isQualifiedName(k); msg != "" {
		return "", fmt.Errorf("key %q: %s", k, msg)
	}
	p.next()
	return k, nil
}

// values parses "(v1, v2)": at least one value, as Kubernetes requires.
func (p *selectorParser) values() ([]string, error) {
	if p.tok.kind != tokOpen {
		return nil, fmt.Errorf("%s", p.unexpected("'('"))
	}
	p.next()
	var out []string
	for {
		v := ""
		if p.tok.kind == tokIdent {
			v = p.tok.text
			p.next()
		}
		if msg := isLabelValue(v); msg != "" {
			return nil, fmt.Errorf("value %q: %s", v, msg)
		}
		out = append(out, v)
		switch p.tok.kind {
		case tokComma:
			p.next()
		case tokClose:
			p.next()
			if len(out) == 1 && out[0] == "" {
				return nil, fmt.Errorf("the set of values is empty")
			}
			return out, nil
		default:
			return nil, fmt.Errorf("%s", p.unexpected("',' or ')'"))
		}
	}
}
