//! The words of the command line, read into a [`Command`] by one option
//! loop on `lexopt`.
//!
//! Every command states which options it accepts ([`Flag`]); [`read`] is the
//! only place options are read, so `--key=…`, `--region`, repeated and
//! conflicting options behave alike in every command. A key may be an
//! option's value, so no error here ever holds one: lexopt's own messages
//! echo values (`unexpected argument for option '--x': "SECRET"`), which is
//! why its errors are turned into [`ArgsError`]s, naming options only, and
//! never displayed.

use std::ffi::OsString;
use std::fmt;

use lexopt::{Arg, Parser};

use super::key::KeySource;
use crate::auth::{DEFAULT_ENTITIES_LIMIT, MAX_ENTITIES_LIMIT};
use crate::gti::Endpoint;
use crate::region::{self, Region};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Serve,
    /// `retired`: the simulated GTI APIs that answer 404 (`--retire`).
    Demo {
        retired: Vec<Endpoint>,
    },
    Observe {
        access: Access,
        /// `--limit`: entities per observable, as `CTR_ENTITIES_LIMIT`.
        limit: usize,
        input: String,
    },
    /// `region`: `--region`, else the relay's default (`GTI_REGION`).
    Refer {
        region: Option<Region>,
        input: String,
    },
    Health {
        key: KeySource,
        region: Option<Region>,
    },
    /// `deliberate` and `respond`: a lookup of observables in FILE.
    Lookup {
        kind: Lookup,
        access: Access,
        input: String,
    },
    /// `tiles` (definitions) or `tiles TILE [PERIOD]` (its data).
    Tiles {
        access: Access,
        tile: Option<String>,
        period: Option<String>,
    },
    Healthcheck,
    Help,
    Version,
}

/// Which lookup [`Command::Lookup`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    Deliberate,
    Respond,
}

impl Lookup {
    pub(crate) fn command(self) -> &'static str {
        match self {
            Lookup::Deliberate => "deliberate",
            Lookup::Respond => "respond",
        }
    }
}

/// Whose key, which tenant data and which region a GTI lookup uses: the
/// command line's share of [`crate::auth::Credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) key: KeySource,
    /// `--allow-test-accounts`: keep test accounts' data.
    pub(crate) allow_test_accounts: bool,
    /// `--region`, else the relay's default (`GTI_REGION`).
    pub(crate) region: Option<Region>,
}

/// A command line that cannot run. Its text names options, never their
/// values (a key may be one); it may quote a FILE, TILE or region word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArgsError {
    /// The first word names no command.
    UnknownCommand(String),
    /// An option the command does not take (`--name`, without any `=value`).
    UnknownOption {
        option: String,
        command: &'static str,
    },
    /// An option that needs a value ends the line.
    MissingValue(String),
    /// `--flag=value` for an option that takes none.
    TakesNoValue(String),
    /// A value that is not UTF-8 (not shown: it may be a key).
    NotUnicode,
    /// Any other problem lexopt finds (its message is not shown: it may
    /// quote a value).
    Unreadable,
    /// `--key=` or `--key-file=`.
    EmptyValue(&'static str),
    /// The same option twice where a second would silently win.
    Twice(&'static str),
    /// `--key` and `--key-file` together.
    KeyOptionsExclude,
    /// `--region` names no region.
    BadRegion(String),
    /// `--limit` is not 1 to [`MAX_ENTITIES_LIMIT`].
    BadLimit(String),
    /// `--retire` names an API the demo cannot retire.
    BadRetire(String),
    /// The command needs a FILE and has none.
    NoInput(&'static str),
    /// More words than the command takes.
    ExtraWords {
        command: &'static str,
        words: Vec<String>,
    },
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::UnknownCommand(word) => write!(f, "unknown command {word:?}"),
            ArgsError::UnknownOption { option, command } => {
                write!(f, "unknown option {option:?} for {command}")
            }
            ArgsError::MissingValue(option) => write!(f, "{option} needs a value"),
            ArgsError::TakesNoValue(option) => write!(f, "{option} takes no value"),
            ArgsError::NotUnicode => f.write_str("an argument is not valid UTF-8"),
            ArgsError::Unreadable => f.write_str("cannot read the command line"),
            ArgsError::EmptyValue(option) => write!(f, "{option} needs a non-empty value"),
            ArgsError::Twice(option) => write!(f, "{option} is given twice"),
            ArgsError::KeyOptionsExclude => {
                f.write_str("--key and --key-file exclude each other; give one")
            }
            ArgsError::BadRegion(value) => write!(
                f,
                "--region must be one of {} (any case), not {value:?}",
                region::ACCEPTED
            ),
            ArgsError::BadRetire(value) => write!(
                f,
                "--retire takes search, dhcp or both (comma-separated), not {value:?}"
            ),
            ArgsError::BadLimit(value) => {
                write!(
                    f,
                    "--limit must be 1 to {MAX_ENTITIES_LIMIT}, not {value:?}"
                )
            }
            ArgsError::NoInput(command) => write!(f, "{command} needs a FILE (or - for stdin)"),
            ArgsError::ExtraWords { command, words } => write_extra(f, command, words),
        }
    }
}

/// What a command says when given more words than it takes.
fn write_extra(f: &mut fmt::Formatter<'_>, command: &str, words: &[String]) -> fmt::Result {
    match command {
        "tiles" => write!(f, "tiles takes a TILE and a PERIOD at most, got {words:?}"),
        "serve" | "demo" | "healthcheck" | "health" => match words.first() {
            Some(extra) => write!(f, "unexpected argument {extra:?}"),
            None => write!(f, "{command} takes no argument"),
        },
        _ => write!(f, "{command} takes one FILE, got {words:?}"),
    }
}

/// Turns lexopt's error into ours, dropping any value it carries.
impl From<lexopt::Error> for ArgsError {
    fn from(error: lexopt::Error) -> Self {
        match error {
            lexopt::Error::MissingValue { option } => {
                ArgsError::MissingValue(option.unwrap_or_else(|| "an option".to_owned()))
            }
            lexopt::Error::UnexpectedValue { option, .. } => ArgsError::TakesNoValue(option),
            lexopt::Error::NonUnicodeValue(_) => ArgsError::NotUnicode,
            // Not raised by this parser (it neither calls `unexpected()` nor
            // parses through lexopt); kept value-free all the same.
            lexopt::Error::UnexpectedOption(_)
            | lexopt::Error::UnexpectedArgument(_)
            | lexopt::Error::ParsingFailed { .. }
            | lexopt::Error::Custom(_) => ArgsError::Unreadable,
        }
    }
}

/// An option some command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Key,
    KeyFile,
    Region,
    Limit,
    AllowTestAccounts,
    Retire,
}

impl Flag {
    /// The flag `--name` spells, if any.
    fn named(name: &str) -> Option<Flag> {
        match name {
            "key" => Some(Flag::Key),
            "key-file" => Some(Flag::KeyFile),
            "region" => Some(Flag::Region),
            "limit" => Some(Flag::Limit),
            "allow-test-accounts" => Some(Flag::AllowTestAccounts),
            "retire" => Some(Flag::Retire),
            _ => None,
        }
    }

    fn option(self) -> &'static str {
        match self {
            Flag::Key => "--key",
            Flag::KeyFile => "--key-file",
            Flag::Region => "--region",
            Flag::Limit => "--limit",
            Flag::AllowTestAccounts => "--allow-test-accounts",
            Flag::Retire => "--retire",
        }
    }
}

/// The options of the GTI lookups `deliberate`, `respond` and `tiles`.
const LOOKUP_FLAGS: &[Flag] = &[
    Flag::Key,
    Flag::KeyFile,
    Flag::AllowTestAccounts,
    Flag::Region,
];

/// The options of `observe`: a lookup's, and `--limit`.
const OBSERVE_FLAGS: &[Flag] = &[
    Flag::Key,
    Flag::KeyFile,
    Flag::AllowTestAccounts,
    Flag::Region,
    Flag::Limit,
];

/// What the options and words after a command's name said.
struct Found {
    command: &'static str,
    access: Access,
    limit: usize,
    /// `--retire` (the demo's).
    retired: Vec<Endpoint>,
    words: Vec<String>,
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[String]) -> Result<Command, ArgsError> {
    let mut parser = Parser::from_args(args);
    let name = match parser.next()? {
        None => return Ok(Command::Serve),
        Some(Arg::Short('h') | Arg::Long("help")) => return Ok(Command::Help),
        Some(Arg::Short('V') | Arg::Long("version")) => return Ok(Command::Version),
        Some(Arg::Short(short)) => return Err(ArgsError::UnknownCommand(format!("-{short}"))),
        Some(Arg::Long(long)) => return Err(ArgsError::UnknownCommand(format!("--{long}"))),
        Some(Arg::Value(word)) => text(word)?,
    };
    let parser = &mut parser;
    match name.as_str() {
        "help" => Ok(Command::Help),
        "serve" => no_words(read(parser, "serve", &[])?, Command::Serve),
        "demo" => demo(read(parser, "demo", &[Flag::Retire])?),
        "healthcheck" => no_words(read(parser, "healthcheck", &[])?, Command::Healthcheck),
        "observe" => observe(read(parser, "observe", OBSERVE_FLAGS)?),
        "refer" => refer(read(parser, "refer", &[Flag::Region])?),
        "deliberate" => lookup(
            Lookup::Deliberate,
            read(parser, "deliberate", LOOKUP_FLAGS)?,
        ),
        "respond" => lookup(Lookup::Respond, read(parser, "respond", LOOKUP_FLAGS)?),
        "tiles" => tiles(read(parser, "tiles", LOOKUP_FLAGS)?),
        "health" => health(read(
            parser,
            "health",
            &[Flag::Key, Flag::KeyFile, Flag::Region],
        )?),
        _ => Err(ArgsError::UnknownCommand(name)),
    }
}

/// The one option loop: reads the rest of the line for `command`, which
/// accepts the options `flags`; every other word is kept, in order.
fn read(parser: &mut Parser, command: &'static str, flags: &[Flag]) -> Result<Found, ArgsError> {
    let mut found = Found {
        command,
        access: Access {
            key: KeySource::Environment,
            allow_test_accounts: false,
            region: None,
        },
        limit: DEFAULT_ENTITIES_LIMIT,
        retired: Vec::new(),
        words: Vec::new(),
    };
    while let Some(arg) = parser.next()? {
        let flag = match arg {
            Arg::Value(word) => {
                found.words.push(text(word)?);
                continue;
            }
            Arg::Long(name) => Flag::named(name).filter(|flag| flags.contains(flag)),
            Arg::Short(_) => None,
        };
        let Some(flag) = flag else {
            return Err(ArgsError::UnknownOption {
                option: option_name(&arg),
                command,
            });
        };
        found.set(flag, parser)?;
    }
    Ok(found)
}

/// `--name` or `-n`, as the user spelled it (never with its `=value`).
fn option_name(arg: &Arg<'_>) -> String {
    match arg {
        Arg::Short(short) => format!("-{short}"),
        Arg::Long(long) => format!("--{long}"),
        Arg::Value(_) => String::new(),
    }
}

impl Found {
    /// Reads `flag` and its value, if it takes one, from `parser`.
    fn set(&mut self, flag: Flag, parser: &mut Parser) -> Result<(), ArgsError> {
        match flag {
            Flag::Key | Flag::KeyFile => {
                let value = text(parser.value()?)?;
                self.access.key = key_source(flag, &self.access.key, value)?;
            }
            Flag::Region => {
                let value = text(parser.value()?)?;
                if self.access.region.is_some() {
                    return Err(ArgsError::Twice("--region"));
                }
                let region = Region::parse(&value).ok_or(ArgsError::BadRegion(value))?;
                self.access.region = Some(region);
            }
            Flag::Limit => {
                let value = text(parser.value()?)?;
                // The same range a token's CTR_ENTITIES_LIMIT may ask for.
                self.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=MAX_ENTITIES_LIMIT).contains(limit))
                    .ok_or(ArgsError::BadLimit(value))?;
            }
            Flag::AllowTestAccounts => self.access.allow_test_accounts = true,
            Flag::Retire => {
                for api in text(parser.value()?)?.split(',') {
                    let endpoint = match api.trim() {
                        "search" => Endpoint::EventSearch,
                        "dhcp" => Endpoint::Dhcp,
                        other => return Err(ArgsError::BadRetire(other.to_owned())),
                    };
                    if !self.retired.contains(&endpoint) {
                        self.retired.push(endpoint);
                    }
                }
            }
        }
        Ok(())
    }

    /// The one FILE the command reads.
    fn input(self) -> Result<(Access, usize, String), ArgsError> {
        let mut words = self.words.into_iter();
        match (words.next(), words.len()) {
            (Some(input), 0) => Ok((self.access, self.limit, input)),
            (None, _) => Err(ArgsError::NoInput(self.command)),
            (Some(input), _) => Err(ArgsError::ExtraWords {
                command: self.command,
                words: std::iter::once(input).chain(words).collect(),
            }),
        }
    }
}

/// `--key` or `--key-file` (`flag`) with `value`, where `given` is what
/// earlier options said. Each may be given once, and not both: which key a
/// command uses must never depend on the order of its options.
fn key_source(flag: Flag, given: &KeySource, value: String) -> Result<KeySource, ArgsError> {
    match (given, flag) {
        (KeySource::Environment, _) => {}
        (KeySource::Argument(_), Flag::Key) | (KeySource::File(_), Flag::KeyFile) => {
            return Err(ArgsError::Twice(flag.option()))
        }
        _ => return Err(ArgsError::KeyOptionsExclude),
    }
    if value.is_empty() {
        return Err(ArgsError::EmptyValue(flag.option()));
    }
    Ok(match flag {
        Flag::Key => KeySource::Argument(value),
        _ => KeySource::File(value),
    })
}

/// A word as text; the binary already made it UTF-8 (lossily).
fn text(word: OsString) -> Result<String, ArgsError> {
    word.into_string().map_err(|_| ArgsError::NotUnicode)
}

fn no_words(found: Found, command: Command) -> Result<Command, ArgsError> {
    without_words(found).map(|_| command)
}

/// `found`, when it holds no words.
fn without_words(found: Found) -> Result<Found, ArgsError> {
    if found.words.is_empty() {
        Ok(found)
    } else {
        Err(ArgsError::ExtraWords {
            command: found.command,
            words: found.words,
        })
    }
}

fn demo(found: Found) -> Result<Command, ArgsError> {
    let found = without_words(found)?;
    Ok(Command::Demo {
        retired: found.retired,
    })
}

fn observe(found: Found) -> Result<Command, ArgsError> {
    let (access, limit, input) = found.input()?;
    Ok(Command::Observe {
        access,
        limit,
        input,
    })
}

fn refer(found: Found) -> Result<Command, ArgsError> {
    let (access, _, input) = found.input()?;
    Ok(Command::Refer {
        region: access.region,
        input,
    })
}

fn lookup(kind: Lookup, found: Found) -> Result<Command, ArgsError> {
    let (access, _, input) = found.input()?;
    Ok(Command::Lookup {
        kind,
        access,
        input,
    })
}

fn tiles(found: Found) -> Result<Command, ArgsError> {
    if found.words.len() > 2 {
        return Err(ArgsError::ExtraWords {
            command: found.command,
            words: found.words,
        });
    }
    let mut words = found.words.into_iter();
    Ok(Command::Tiles {
        access: found.access,
        tile: words.next(),
        period: words.next(),
    })
}

fn health(found: Found) -> Result<Command, ArgsError> {
    let Found { access, .. } = without_words(found)?;
    Ok(Command::Health {
        key: access.key,
        region: access.region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Command, ArgsError> {
        let args: Vec<String> = words.iter().map(|word| (*word).to_owned()).collect();
        parse(&args)
    }

    fn access(key: KeySource, allow_test_accounts: bool, region: Option<Region>) -> Access {
        Access {
            key,
            allow_test_accounts,
            region,
        }
    }

    #[test]
    fn the_demo_may_retire_the_search_and_dhcp() {
        let demo = |retired: Vec<Endpoint>| Ok(Command::Demo { retired });
        assert_eq!(parse_words(&["demo"]), demo(Vec::new()));
        assert_eq!(
            parse_words(&["demo", "--retire", "search"]),
            demo(vec![Endpoint::EventSearch])
        );
        assert_eq!(
            parse_words(&["demo", "--retire=dhcp,search,dhcp"]),
            demo(vec![Endpoint::Dhcp, Endpoint::EventSearch])
        );
        assert_eq!(
            parse_words(&["demo", "--retire", "detections"]),
            Err(ArgsError::BadRetire("detections".into()))
        );
        assert!(parse_words(&["observe", "--retire", "search", "-"]).is_err());
    }

    #[test]
    fn no_argument_serves_and_the_first_word_may_ask_for_help() {
        assert_eq!(parse_words(&[]), Ok(Command::Serve));
        for help in ["-h", "--help", "help"] {
            assert_eq!(parse_words(&[help, "extra"]), Ok(Command::Help));
        }
        for version in ["-V", "--version"] {
            assert_eq!(parse_words(&[version]), Ok(Command::Version));
        }
    }

    #[test]
    fn observe_takes_options_in_any_order() {
        assert_eq!(
            parse_words(&[
                "observe",
                "-",
                "--limit",
                "5",
                "--key",
                "k",
                "--allow-test-accounts"
            ]),
            Ok(Command::Observe {
                access: access(KeySource::Argument("k".to_owned()), true, None),
                limit: 5,
                input: "-".to_owned(),
            })
        );
        assert_eq!(
            parse_words(&["observe", "--limit=1000", "f"]),
            Ok(Command::Observe {
                access: access(KeySource::Environment, false, None),
                limit: MAX_ENTITIES_LIMIT,
                input: "f".to_owned(),
            })
        );
    }

    #[test]
    fn lookups_and_tiles_share_the_options() {
        assert_eq!(
            parse_words(&["respond", "--region", "eu", "--key-file", "k", "-"]),
            Ok(Command::Lookup {
                kind: Lookup::Respond,
                access: access(KeySource::File("k".to_owned()), false, Some(Region::Eu)),
                input: "-".to_owned(),
            })
        );
        assert_eq!(
            parse_words(&["tiles", "t", "--allow-test-accounts", "p"]),
            Ok(Command::Tiles {
                access: access(KeySource::Environment, true, None),
                tile: Some("t".to_owned()),
                period: Some("p".to_owned()),
            })
        );
        assert_eq!(
            parse_words(&["tiles"]),
            Ok(Command::Tiles {
                access: access(KeySource::Environment, false, None),
                tile: None,
                period: None,
            })
        );
    }

    #[test]
    fn the_key_comes_from_one_option_or_the_environment() {
        let health = |words: &[&str]| {
            let mut all = vec!["health"];
            all.extend_from_slice(words);
            parse_words(&all)
        };
        let health_with = |key| Ok(Command::Health { key, region: None });
        assert_eq!(health(&[]), health_with(KeySource::Environment));
        for words in [&["--key-file", "/run/key"][..], &["--key-file=/run/key"]] {
            let expected = health_with(KeySource::File("/run/key".to_owned()));
            assert_eq!(health(words), expected, "{words:?}");
        }
        let expected = health_with(KeySource::Argument("a=b".to_owned()));
        assert_eq!(health(&["--key=a=b"]), expected);
        let Ok(Command::Observe { access, .. }) = parse_words(&["observe", "--key-file", "f", "-"])
        else {
            panic!("observe takes --key-file");
        };
        assert_eq!(access.key, KeySource::File("f".to_owned()));

        for words in [
            &["--key", "SECRET", "--key-file", "f"][..],
            &["--key-file", "f", "--key", "SECRET"],
            &["--key-file=f", "--key=SECRET"],
            &["--key", "SECRET", "--key", "SECRET"],
            &["--key-file", "f", "--key-file", "g"],
            &["--key", ""],
            &["--key-file="],
            &["--key-file"],
        ] {
            let problem = health(words).expect_err("a usage error").to_string();
            assert!(!problem.contains("SECRET"), "{problem}");
        }
        let problem = health(&["--key", "k", "--key-file", "f"]).map_err(|e| e.to_string());
        assert_eq!(
            problem,
            Err("--key and --key-file exclude each other; give one".to_owned())
        );
    }

    /// lexopt's own messages quote values (`unexpected argument for option
    /// '--x': "SECRET"`); ours name the option only, however the value was
    /// attached, whichever command or position.
    #[test]
    fn no_usage_error_echoes_an_options_value() {
        for words in [
            &["health", "--kee=SECRET"][..],
            &["health", "--api-key=SECRET"],
            &["health", "--allow-test-accounts=SECRET"],
            &["observe", "--allow-test-accounts=SECRET", "-"],
            &["refer", "--key=SECRET", "-"],
            &["demo", "--key=SECRET"],
            &["observe", "-kSECRET", "-"],
            &["observe", "-k=SECRET", "-"],
            &["--key=SECRET"],
            &["-kSECRET"],
            &["health", "--key", "SECRET", "--key"],
            &["health", "--key-file", "SECRET", "--key=SECRET"],
        ] {
            let problem = parse_words(words).expect_err("a usage error");
            assert!(
                !format!("{problem} {problem:?}").contains("SECRET"),
                "{words:?}: {problem}"
            );
        }
        let problem = parse_words(&["health", "--kee=SECRET"]).map_err(|e| e.to_string());
        assert_eq!(
            problem,
            Err("unknown option \"--kee\" for health".to_owned())
        );
        let problem = parse_words(&["health", "--allow-test-accounts=SECRET"]).unwrap_err();
        assert!(
            problem.to_string().contains("--allow-test-accounts"),
            "{problem}"
        );
    }

    #[test]
    fn debug_output_never_shows_a_key() {
        let command = Command::Health {
            key: KeySource::Argument("SECRET".to_owned()),
            region: None,
        };
        assert!(!format!("{command:?}").contains("SECRET"));
        assert!(format!("{command:?}").contains("Argument"));
    }

    #[test]
    fn region_picks_one_of_the_relays_regions() {
        assert_eq!(
            parse_words(&["refer", "--region", "EU", "-"]),
            Ok(Command::Refer {
                region: Some(Region::Eu),
                input: "-".to_owned()
            })
        );
        assert_eq!(
            parse_words(&["refer", "f"]),
            Ok(Command::Refer {
                region: None,
                input: "f".to_owned()
            })
        );
        assert_eq!(
            parse_words(&["health", "--region=us", "--key-file", "k"]),
            Ok(Command::Health {
                key: KeySource::File("k".to_owned()),
                region: Some(Region::Us),
            })
        );
        let Ok(Command::Observe { access, input, .. }) =
            parse_words(&["observe", "-", "--region", "eu"])
        else {
            panic!("observe takes --region");
        };
        assert_eq!((access.region, input.as_str()), (Some(Region::Eu), "-"));
        for bad in [
            &["refer", "--region", "apjc", "-"][..],
            &["refer", "--region", "-"],
            &["refer", "--region", "us", "--region", "eu", "-"],
            &["health", "--region"],
            &["observe", "--region=", "-"],
            &["refer", "--limit", "5", "-"],
            &["refer", "a", "b"],
        ] {
            assert!(parse_words(bad).is_err(), "{bad:?}");
        }
        let problem = parse_words(&["refer", "--region", "apjc", "-"]).unwrap_err();
        assert!(problem.to_string().contains("us, eu"), "{problem}");
    }

    #[test]
    fn usage_errors_are_caught() {
        for bad in [
            &["observe"][..],
            &["observe", "a", "b"],
            &["observe", "--limit", "0", "a"],
            &["observe", "--limit", "1001", "a"],
            &["observe", "--limit", "x", "a"],
            &["observe", "--key"],
            &["observe", "--frobnicate", "a"],
            &["refer"],
            &["health", "extra"],
            &["health", "--key"],
            &["health", "--limit", "5"],
            &["observe", "--allow-test-accounts=yes", "-"],
            &["deliberate"],
            &["respond", "a", "b"],
            &["tiles", "a", "b", "c"],
            &["demo", "now"],
            &["serve", "--region", "eu"],
            &["nonsense"],
        ] {
            assert!(parse_words(bad).is_err(), "{bad:?}");
        }
    }
}
