//! The one percent-encoder: Python's `urllib.parse.quote(text, safe='')`
//! and `quote_plus`, which the reference relay uses for every link it
//! builds and which GTI's query strings accept.

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
