//! The environment a Dockerfile's final stage sets (its `ENV`
//! instructions), read from the Dockerfile itself so that a bench can start
//! a binary as the image does without a second copy of the values.
//!
//! Reads what Docker reads for `ENV`: line continuations (`\` at the end of
//! a line), comment lines, `ENV KEY=VALUE …` with double- or single-quoted
//! values and backslash escapes, and the legacy `ENV KEY VALUE`. Variable
//! references (`$VAR`, `${VAR}`) are kept as written: a final stage that
//! needs them is outside what this reads, and its values are returned
//! unexpanded rather than guessed.

/// The `(name, value)` pairs the `ENV` instructions after the last `FROM`
/// of `dockerfile` (its text) set, in order, a later one winning; `Err`
/// when there is no `FROM` or an `ENV` cannot be read.
pub fn final_stage_env(dockerfile: &str) -> Result<Vec<(String, String)>, String> {
    let instructions = instructions(dockerfile);
    let last_from = instructions
        .iter()
        .rposition(|(keyword, _)| keyword.eq_ignore_ascii_case("FROM"))
        .ok_or("no FROM instruction")?;
    let mut env: Vec<(String, String)> = Vec::new();
    for (keyword, arguments) in &instructions[last_from + 1..] {
        if !keyword.eq_ignore_ascii_case("ENV") {
            continue;
        }
        for (name, value) in env_pairs(arguments)? {
            env.retain(|(earlier, _)| *earlier != name);
            env.push((name, value));
        }
    }
    Ok(env)
}

/// The instructions as (keyword, arguments), continuation lines joined and
/// comment lines dropped.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(start) => {
                current.push_str(start);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, arguments) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((&current, ""));
                instructions.push((keyword.to_owned(), arguments.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

/// The pairs of one `ENV` instruction's arguments.
fn env_pairs(arguments: &str) -> Result<Vec<(String, String)>, String> {
    let words = words(arguments)?;
    let Some(first) = words.first() else {
        return Err("ENV without a variable".to_owned());
    };
    if !first.contains('=') {
        // The legacy form: one variable, the rest of the line its value.
        let value = arguments.trim()[first.len()..].trim().to_owned();
        return Ok(vec![(first.clone(), value)]);
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => Err(format!("ENV cannot read {word:?}")),
        })
        .collect()
}

/// `text` split on unquoted whitespace, quotes removed and escapes applied.
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '"' | '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(end) if end == c => break,
                        Some('\\') if c == '"' => word.extend(chars.next()),
                        Some(other) => word.push(other),
                        None => return Err(format!("ENV: unclosed {c} in {text:?}")),
                    }
                }
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn only_the_final_stage_counts() {
        let dockerfile = "FROM rust AS builder\nENV CARGO_HOME=/cargo\n\
            # --- final stage\nFROM scratch\n# a comment\nENV HOST=0.0.0.0 PORT=9090\n\
            ENV GLIBC_TUNABLES=glibc.malloc.arena_max=2\nEXPOSE 9090\n";
        assert_eq!(
            final_stage_env(dockerfile).unwrap(),
            pairs(&[
                ("HOST", "0.0.0.0"),
                ("PORT", "9090"),
                ("GLIBC_TUNABLES", "glibc.malloc.arena_max=2"),
            ])
        );
    }

    #[test]
    fn quotes_escapes_continuations_and_the_legacy_form() {
        let dockerfile = "from scratch\nenv A=\"one two\" \\\n    B='it''s' C=x\\ y\n\
            ENV LEGACY some words here\nENV A=again\n";
        assert_eq!(
            final_stage_env(dockerfile).unwrap(),
            pairs(&[
                ("B", "its"),
                ("C", "x y"),
                ("LEGACY", "some words here"),
                ("A", "again"),
            ])
        );
    }

    #[test]
    fn what_cannot_be_read_is_an_error() {
        assert!(final_stage_env("ENV A=1\n").is_err());
        assert!(final_stage_env("FROM scratch\nENV A=\"open\n").is_err());
        assert!(final_stage_env("FROM scratch\nENV A=1 =2\n").is_err());
    }
}
