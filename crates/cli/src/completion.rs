//! Additions to the completion scripts clap_complete generates: what a static
//! script cannot know on its own.
//!
//! - The catalog's object and action names for fish (bash and zsh get them from
//!   the value parser of the positional arguments; fish's generator skips those).
//! - Profile names for `--profile`, which live in the user's config file and
//!   cache: the script asks `runtel profiles --names` at completion time, through
//!   the same program the user is completing (so a `./runtel` works too).
//!
//! PowerShell and elvish get the generated script as it is: commands and flags,
//! without catalog or profile names.

use clap_complete::Shell;

/// Appends (or, for zsh, patches in) the shell's additions to `script`.
pub fn extend(shell: Shell, script: &mut String) {
    match shell {
        Shell::Bash => script.push_str(BASH_PROFILES),
        Shell::Fish => script.push_str(&fish_names()),
        Shell::Zsh => zsh_profiles(script),
        _ => {}
    }
}

/// Wraps the generated `_runtel`: the value of `--profile` (as the next word or
/// after `=`) comes from `runtel profiles --names`, everything else from clap's
/// function. Registered with the same options clap uses.
const BASH_PROFILES: &str = r#"
# Profile names for --profile, from the config file and cached sessions.
_runtel_with_profiles() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev=""
    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"
    if [[ "$prev" == "--profile" ]]; then
        COMPREPLY=($(compgen -W "$("$1" profiles --names 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _runtel "$@"
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _runtel_with_profiles -o nosort -o bashdefault -o default runtel
else
    complete -F _runtel_with_profiles -o bashdefault -o default runtel
fi
"#;

/// Fish completions of the catalog's object and action names, and of profile
/// names for `--profile`.
fn fish_names() -> String {
    let objects = crate::object_names().join(" ");
    let actions = crate::action_names().join(" ");
    format!(
        "# The catalog's object and action names (runtel objects).
complete -c runtel -n \"__fish_runtel_using_subcommand call\" -f -a \"{objects} {actions}\"
complete -c runtel -n \"__fish_runtel_using_subcommand export\" -f -a \"{objects}\"
complete -c runtel -n \"__fish_runtel_using_subcommand sync\" -f -a \"{objects}\"
complete -c runtel -n \"__fish_runtel_using_subcommand objects\" -f -a \"{objects}\"
# Profile names for --profile, from the config file and cached sessions.
complete -c runtel -l profile -f -r -a \"(runtel profiles --names 2>/dev/null)\"
"
    )
}

/// The zsh action clap gives `--profile` (any word), and the one put in its
/// place: a function listing the profiles.
const ZSH_ANY_PROFILE: &str = "'--profile=[";
const ZSH_PROFILES_FN: &str = r#"
# Profile names for --profile, from the config file and cached sessions.
_runtel_profiles() {
    local -a names
    names=(${(f)"$(${words[1]} profiles --names 2>/dev/null)"})
    _describe -t profiles 'profile' names
}
"#;

/// Points every `--profile` spec of the zsh script at `_runtel_profiles`.
fn zsh_profiles(script: &mut String) {
    let mut out = String::with_capacity(script.len() + ZSH_PROFILES_FN.len());
    for line in script.lines() {
        if line.trim_start().starts_with(ZSH_ANY_PROFILE) {
            // `'--profile=[HELP]:PROFILE:_default' \` -> `...:PROFILE:_runtel_profiles' \`
            if let Some(at) = line.rfind(":_default'") {
                out.push_str(&line[..at]);
                out.push_str(":_runtel_profiles'");
                out.push_str(&line[at + ":_default'".len()..]);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    // The function must exist before compdef runs the completion.
    match out.find("\nif [ \"$funcstack[1]\" = \"_runtel\" ]") {
        Some(at) => out.insert_str(at, ZSH_PROFILES_FN),
        None => out.push_str(ZSH_PROFILES_FN),
    }
    *script = out;
}
