//! The benches' command-line values, read through `lexopt`, and their
//! problems as one line each. No message repeats a value from the command
//! line: a bench's arguments may end up in a shared log.

use std::str::FromStr;

use lexopt::Parser;

/// The value of `option` (e.g. `--relay`) as text.
pub fn text(parser: &mut Parser, option: &str) -> Result<String, String> {
    parser
        .value()
        .map_err(problem)?
        .into_string()
        .map_err(|_| format!("{option} takes UTF-8 text"))
}

/// The value of `option` as one whole number.
pub fn number<T: FromStr>(parser: &mut Parser, option: &str) -> Result<T, String> {
    text(parser, option)?
        .trim()
        .parse()
        .map_err(|_| format!("{option} takes a whole number"))
}

/// The value of `option` as comma-separated whole numbers (at least one).
pub fn numbers<T: FromStr>(parser: &mut Parser, option: &str) -> Result<Vec<T>, String> {
    text(parser, option)?
        .split(',')
        .map(|item| item.trim().parse())
        .collect::<Result<Vec<T>, _>>()
        .map_err(|_| format!("{option} takes comma-separated whole numbers"))
}

/// `lexopt`'s error as a line that names the option at most, never a value
/// (its own messages quote the argument).
pub fn problem(error: lexopt::Error) -> String {
    match error {
        lexopt::Error::MissingValue {
            option: Some(option),
        } => format!("{option} needs a value"),
        lexopt::Error::MissingValue { option: None } => "an option needs a value".to_owned(),
        lexopt::Error::UnexpectedValue { option, .. } => format!("{option} takes no value"),
        lexopt::Error::UnexpectedOption(_) | lexopt::Error::UnexpectedArgument(_) => {
            "unknown argument".to_owned()
        }
        lexopt::Error::NonUnicodeValue(_) => "an argument is not UTF-8".to_owned(),
        lexopt::Error::ParsingFailed { .. } | lexopt::Error::Custom(_) => {
            "an argument cannot be read".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(args: &[&str]) -> Parser {
        Parser::from_args(args.iter().copied())
    }

    #[test]
    fn values_are_read() {
        let mut args = parser(&["--caps", "64, 256", "--requests=30", "--relay", "x"]);
        args.next().unwrap();
        assert_eq!(numbers::<usize>(&mut args, "--caps"), Ok(vec![64, 256]));
        args.next().unwrap();
        assert_eq!(number::<usize>(&mut args, "--requests"), Ok(30));
        args.next().unwrap();
        assert_eq!(text(&mut args, "--relay"), Ok("x".to_owned()));
    }

    #[test]
    fn problems_never_repeat_a_value() {
        let mut args = parser(&["--caps", "secret-1", "--bench=secret-2", "secret-3"]);
        args.next().unwrap();
        let caps = numbers::<usize>(&mut args, "--caps").unwrap_err();
        args.next().unwrap();
        let flag = problem(args.next().unwrap_err());
        let stray = match args.next().unwrap() {
            Some(lexopt::Arg::Value(_)) => {
                problem(lexopt::Error::UnexpectedArgument("secret-3".into()))
            }
            _ => panic!("a stray value"),
        };
        let missing = {
            let mut args = parser(&["--relay"]);
            args.next().unwrap();
            text(&mut args, "--relay").unwrap_err()
        };
        for message in [caps, flag, stray, missing] {
            assert!(!message.contains("secret"), "{message}");
        }
    }
}
