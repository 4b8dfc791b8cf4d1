//! The one percent codec: Python's `urllib.parse.quote(text, safe='')`
//! and `quote_plus`, which the reference relay uses for every link it
//! builds and which GTI's query strings accept, and their inverses
//! [`unquote`] and [`unquote_plus`], strict where Python's are lenient.

/// Form-encodes `text` like Python's `urllib.parse.quote_plus`: ASCII
/// letters, digits and `_.-~` stay, a space becomes `+`, every other byte of
/// the UTF-8 text becomes `%XX` (uppercase hex).
pub fn quote_plus(text: &str) -> String {
    quote_with(text, true)
}

/// Python's `quote(text, safe='')`: RFC 3986's unreserved characters stay,
/// every other byte becomes `%XX`, so any value (`&`, `#`, `/`, spaces,
/// non-ASCII) survives as one path segment or query parameter.
pub fn quote(text: &str) -> String {
    quote_with(text, false)
}

/// [`quote`], but `:` stays too: one path segment as GTI's entity API
/// takes it (an IPv6 address keeps its colons).
pub fn quote_segment(text: &str) -> String {
    quote(text).replace("%3A", ":")
}

fn quote_with(text: &str, space_as_plus: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte))
            }
            b' ' if space_as_plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
    out
}

/// The inverse of [`quote`]: every `%XX` becomes its byte, everything else
/// stays (`+` included). `None` when an escape is not `%` and two hex
/// digits, or when the bytes are not UTF-8.
pub fn unquote(text: &str) -> Option<String> {
    unquote_with(text, false)
}

/// The inverse of [`quote_plus`]: [`unquote`], and a `+` is a space, as in
/// a form-encoded query string.
pub fn unquote_plus(text: &str) -> Option<String> {
    unquote_with(text, true)
}

fn unquote_with(text: &str, plus_as_space: bool) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        bytes.push(match byte {
            b'%' => {
                let [high, low, tail @ ..] = rest else {
                    return None;
                };
                rest = tail;
                (hex_digit(*high)? << 4) | hex_digit(*low)?
            }
            b'+' if plus_as_space => b' ',
            _ => byte,
        });
    }
    String::from_utf8(bytes).ok()
}

/// The value of one hex digit, either case.
fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_unreserved_characters_and_escapes_the_rest() {
        assert_eq!(quote("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(quote("a b&c/é"), "a%20b%26c%2F%C3%A9");
        assert_eq!(quote_plus("a b+c"), "a+b%2Bc");
    }

    #[test]
    fn unquoting_inverts_quoting() {
        for text in [
            "",
            "plain",
            "a b+c&d=e/f?g#h%",
            "ip = '1.2.3.4'",
            "é ü 漢字 🙂",
        ] {
            assert_eq!(unquote(&quote(text)).as_deref(), Some(text), "{text:?}");
            assert_eq!(
                unquote_plus(&quote_plus(text)).as_deref(),
                Some(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_plus_is_a_space_only_when_form_encoded() {
        assert_eq!(unquote("a+b%20c").as_deref(), Some("a+b c"));
        assert_eq!(unquote_plus("a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(unquote_plus("%2b%2B").as_deref(), Some("++"));
    }

    #[test]
    fn malformed_escapes_and_non_utf8_are_refused() {
        for bad in [
            "%", "%2", "a%zz", "%g0", "%+1", "%-1", "%C3", "%FF", "%C3%28",
        ] {
            assert_eq!(unquote(bad), None, "{bad:?}");
            assert_eq!(unquote_plus(bad), None, "{bad:?}");
        }
    }
}
