package tui

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// dialog is a modal box over the page. update returns done when the
// dialog should close.
type dialog interface {
	init() tea.Cmd
	update(msg tea.Msg) (done bool, cmd tea.Cmd)
	view(width int) string
	shortHelp() []key.Binding
}

// confirm asks yes or no before a (destructive) command.
type confirm struct {
	sh          *shared
	title, body string
	danger      bool
	onYes       tea.Cmd
}

func newConfirm(sh *shared, title, body string, danger bool, onYes tea.Cmd) *confirm {
	return &confirm{sh: sh, title: title, body: body, danger: danger, onYes: onYes}
}

func (c *confirm) init() tea.Cmd { return nil }

func (c *confirm) update(msg tea.Msg) (bool, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	if key.Matches(k, c.sh.keys.Confirm) {
		return true, c.onYes
	}
	return true, nil // anything else cancels
}

func (c *confirm) view(width int) string {
	st := c.sh.st
	w := min(60, width-4)
	title := st.Title.Render(c.title)
	if c.danger {
		title = st.Danger.Render(c.title)
	}
	body := lipgloss.Wrap(c.body, w, " ")
	yes := c.sh.keys.Confirm.Help().Key
	return st.Dialog.Width(w + 4).Render(title + "\n\n" + body + "\n\n" +
		st.Key.Render(yes) + " yes   " + st.Key.Render("any other key") + " no")
}

func (c *confirm) shortHelp() []key.Binding {
	return []key.Binding{c.sh.keys.Confirm, c.sh.keys.Cancel}
}

// field is one line of a form.
type field struct {
	label    string
	value    string // initial value
	hint     string
	complete bool     // tab completes file paths
	choices  []string // tab cycles these
	input    textinput.Model
}

// form is a dialog of text fields.
type form struct {
	sh      *shared
	title   string
	note    string // optional text under the title
	fields  []*field
	focus   int
	err     string
	matches []string // the last path completion candidates
	seq     int
	submit  func(values []string) (tea.Cmd, error)
	// change, when set, sees the values after every edit (live preview);
	// cancel, when set, runs when the form is dismissed without submitting.
	change func(values []string)
	cancel func()
}

func newForm(sh *shared, title string, fields []*field) *form {
	f := &form{sh: sh, title: title, fields: fields}
	for _, fl := range fields {
		in := textinput.New()
		in.Prompt = ""
		sty := in.Styles()
		sty.Cursor.Blink = false // no timer ticks while a dialog is open
		in.SetStyles(sty)
		in.Placeholder = fl.hint
		in.SetValue(fl.value)
		in.CursorEnd()
		fl.input = in
	}
	return f
}

func (f *form) init() tea.Cmd { return f.fields[f.focus].input.Focus() }

func (f *form) values() []string {
	v := make([]string, len(f.fields))
	for i, fl := range f.fields {
		v[i] = fl.input.Value()
	}
	return v
}

func (f *form) setFocus(i int) tea.Cmd {
	f.fields[f.focus].input.Blur()
	f.focus = (i + len(f.fields)) % len(f.fields)
	f.matches = nil
	return f.fields[f.focus].input.Focus()
}

// completionMsg carries path completions computed in a tea.Cmd.
type completionMsg struct {
	seq     int
	field   int
	typed   string
	matches []string
}

func (f *form) update(msg tea.Msg) (bool, tea.Cmd) {
	k := f.sh.keys
	switch msg := msg.(type) {
	case completionMsg:
		fl := f.fields[msg.field]
		if msg.seq != f.seq || fl.input.Value() != msg.typed {
			return false, nil
		}
		f.matches = msg.matches
		if len(msg.matches) > 0 {
			fl.input.SetValue(commonPrefix(msg.matches))
			fl.input.CursorEnd()
		}
		if len(msg.matches) == 1 {
			f.matches = nil
		}
		return false, nil
	case tea.KeyPressMsg:
		fl := f.fields[f.focus]
		switch {
		case key.Matches(msg, k.Cancel):
			if f.cancel != nil {
				f.cancel()
			}
			return true, nil
		case key.Matches(msg, k.Submit):
			cmd, err := f.submit(f.values())
			if err != nil {
				f.err = err.Error()
				return false, nil
			}
			return true, cmd
		case key.Matches(msg, k.Complete) && fl.complete:
			f.seq++
			return false, completePath(f.seq, f.focus, fl.input.Value())
		case key.Matches(msg, k.Complete) && len(fl.choices) > 0:
			next := fl.choices[0]
			for i, c := range fl.choices {
				if c == fl.input.Value() {
					next = fl.choices[(i+1)%len(fl.choices)]
				}
			}
			fl.input.SetValue(next)
			fl.input.CursorEnd()
			return false, nil
		case key.Matches(msg, k.NextField, k.Complete):
			return false, f.setFocus(f.focus + 1)
		case key.Matches(msg, k.PrevField):
			return false, f.setFocus(f.focus - 1)
		}
		f.err = ""
	}
	var cmd tea.Cmd
	before := f.fields[f.focus].input.Value()
	f.fields[f.focus].input, cmd = f.fields[f.focus].input.Update(msg)
	if f.change != nil && f.fields[f.focus].input.Value() != before {
		f.change(f.values())
	}
	return false, cmd
}

func (f *form) view(width int) string {
	st := f.sh.st
	w := min(72, width-4)
	labelW := 0
	for _, fl := range f.fields {
		labelW = max(labelW, len(fl.label))
	}
	inW := max(8, w-labelW-2)
	var b strings.Builder
	b.WriteString(st.Title.Render(f.title))
	b.WriteString("\n")
	if f.note != "" {
		b.WriteString(st.Dim.Render(lipgloss.Wrap(f.note, w, " ")) + "\n")
	}
	for i, fl := range f.fields {
		fl.input.SetWidth(inW - 1)
		label := fit(fl.label, labelW)
		if i == f.focus {
			label = st.Key.Render(label)
		} else {
			label = st.Dim.Render(label)
		}
		b.WriteString("\n" + label + "  " + fl.input.View())
	}
	if len(f.matches) > 1 {
		show := f.matches
		if len(show) > 6 {
			show = show[:6]
		}
		names := make([]string, len(show))
		for i, p := range show {
			names[i] = filepath.Base(strings.TrimSuffix(p, "/"))
			if strings.HasSuffix(p, "/") {
				names[i] += "/"
			}
		}
		more := ""
		if n := len(f.matches) - len(show); n > 0 {
			more = " …+" + strconv.Itoa(n)
		}
		b.WriteString("\n\n" + st.Dim.Render(fit(strings.Join(names, "  ")+more, w)))
	}
	if f.err != "" {
		b.WriteString("\n\n" + st.Error.Render(lipgloss.Wrap(f.err, w, " ")))
	}
	return st.Dialog.Width(w + 4).Render(b.String())
}

func (f *form) shortHelp() []key.Binding {
	k := f.sh.keys
	return []key.Binding{k.Submit, k.Cancel, k.NextField, k.PrevField, k.Complete}
}

// completePath lists the directory entries that complete typed. It runs
// as a tea.Cmd: it reads the file system.
func completePath(seq, fieldIdx int, typed string) tea.Cmd {
	return func() tea.Msg {
		msg := completionMsg{seq: seq, field: fieldIdx, typed: typed}
		p := typed
		home := ""
		if strings.HasPrefix(p, "~/") {
			if h, err := os.UserHomeDir(); err == nil {
				home = h
				p = filepath.Join(h, p[2:])
				if strings.HasSuffix(typed, "/") {
					p += "/"
				}
			}
		}
		dir, base := filepath.Split(p)
		readDir := dir
		if readDir == "" {
			readDir = "."
		}
		entries, err := os.ReadDir(readDir)
		if err != nil {
			return msg
		}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
				continue
			}
			full := dir + name
			isDir := e.IsDir()
			if e.Type()&os.ModeSymlink != 0 {
				if fi, err := os.Stat(filepath.Join(readDir, name)); err == nil {
					isDir = fi.IsDir()
				}
			}
			if isDir {
				full += "/"
			}
			if home != "" {
				full = "~/" + strings.TrimPrefix(strings.TrimPrefix(full, home), "/")
			}
			msg.matches = append(msg.matches, full)
		}
		sort.Strings(msg.matches)
		return msg
	}
}

func commonPrefix(ss []string) string {
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
