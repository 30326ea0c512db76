package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// cliCommands are the words completion offers: each command and its
// subcommands.
var cliCommands = []struct {
	name string
	subs []string
}{
	{"serve", nil}, {"bench", []string{"ingest", "consume", "e2e", "cluster", "compare"}},
	{"backup", nil}, {"restore", nil}, {"healthcheck", nil}, {"version", nil},
	{"queue", []string{"put", "list", "get", "delete"}},
	{"source", []string{"put", "list", "get", "delete"}},
	{"token", []string{"create", "list", "delete"}},
	{"send", nil}, {"tail", nil}, {"messages", nil}, {"message", []string{"get"}},
	{"replay", nil}, {"redrive", nil}, {"purge", nil},
	{"cluster", []string{"status", "transfer", "remove"}},
	{"completion", []string{"bash", "zsh"}},
}

const cliGlobalFlags = "--url --token --json --ca -h"

func runCompletion(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "bash" && args[0] != "zsh") {
		help := len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")
		fmt.Fprint(stderr, "Usage: hookq completion bash|zsh\n\n"+
			"  source <(hookq completion bash)     # bash, e.g. in ~/.bashrc\n"+
			"  source <(hookq completion zsh)      # zsh, e.g. in ~/.zshrc\n")
		if help {
			return flag.ErrHelp
		}
		return errUsage
	}
	var cmds []string
	var cases strings.Builder
	for _, c := range cliCommands {
		cmds = append(cmds, c.name)
		if len(c.subs) > 0 {
			fmt.Fprintf(&cases, "    %s) subs=%q ;;\n", c.name, strings.Join(c.subs, " "))
		}
	}
	script := fmt.Sprintf(`# hookq completion for bash (zsh loads it through bashcompinit)
_hookq() {
  local cur=${COMP_WORDS[COMP_CWORD]} subs=""
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W %q -- "$cur")); return
  fi
  if (( COMP_CWORD == 1 )); then
    COMPREPLY=($(compgen -W %q -- "$cur")); return
  fi
  case ${COMP_WORDS[1]} in
%s  esac
  if (( COMP_CWORD == 2 )) && [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
}
complete -F _hookq hookq
`, cliGlobalFlags, strings.Join(cmds, " "), cases.String())
	if args[0] == "zsh" {
		script = "autoload -U +X bashcompinit && bashcompinit\n" + script
	}
	_, err := io.WriteString(stdout, script)
	return err
}
