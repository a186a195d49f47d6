//! Hex, for the schemes that write tags that way and for stores that key on text.

/// Lower-case hex; a dependency would be more code than this.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes hex of either case into `out`; `None` unless `text` is exactly `2 * out.len()` hex
/// digits.
pub(crate) fn unhex(text: &[u8], out: &mut [u8]) -> Option<()> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = hex(&bytes);
        let mut back = vec![0; 256];
        unhex(text.as_bytes(), &mut back).unwrap();
        assert_eq!(back, bytes);
        unhex(text.to_uppercase().as_bytes(), &mut back).unwrap();
        assert_eq!(back, bytes);
        assert!(unhex(b"0g", &mut [0]).is_none());
        assert!(unhex(b"000", &mut [0]).is_none());
    }
}
