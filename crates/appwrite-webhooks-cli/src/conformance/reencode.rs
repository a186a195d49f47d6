//! The ways JSON libraries re-encode a body, applied to the raw text without parsing it into
//! values, so each changes exactly one thing: `\/` unescaped, `\uXXXX` decoded, pretty-printed,
//! keys reordered. A receiver that verifies anything but the received bytes accepts some of them.

/// `\/` written as `/` (what every JSON encoder but PHP's does).
pub fn unescape_slashes(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' && i + 1 < body.len() {
            if body[i + 1] != b'/' {
                out.push(b'\\');
            }
            out.push(body[i + 1]);
            i += 2;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

/// `\uXXXX` written as the character itself in UTF-8 (surrogate pairs joined); escapes of
/// quotes, backslashes and control characters stay, as an encoder must keep them.
pub fn decode_unicode(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let hex = |from: usize| -> Option<u32> {
        let digits: String = chars.get(from..from + 4)?.iter().collect();
        u32::from_str_radix(&digits, 16).ok()
    };
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\'
            && chars.get(i + 1) == Some(&'u')
            && let Some(unit) = hex(i + 2)
        {
            let (code, len) = if (0xd800..0xdc00).contains(&unit)
                && chars.get(i + 6) == Some(&'\\')
                && chars.get(i + 7) == Some(&'u')
            {
                match hex(i + 8) {
                    Some(low) if (0xdc00..0xe000).contains(&low) => {
                        (0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00), 12)
                    }
                    _ => (unit, 6),
                }
            } else {
                (unit, 6)
            };
            if let Some(c) = char::from_u32(code).filter(|c| *c >= ' ' && *c != '"' && *c != '\\') {
                out.push(c);
                i += len;
                continue;
            }
        }
        if chars[i] == '\\' {
            // Keep any other escape whole, so `\\u` is not read as an escape.
            out.push('\\');
            if let Some(next) = chars.get(i + 1) {
                out.push(*next);
            }
            i += 2;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out.into_bytes()
}

/// Pretty-printed with two-space indentation, as `JSON.stringify(v, null, 2)` writes it.
pub fn pretty(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 2));
    };
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                let empty = matches!(body.get(i + 1), Some(b'}' | b']'));
                if !empty {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                let empty = i > 0 && matches!(body[i - 1], b'{' | b'[');
                if !empty {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => out.push(b),
        }
    }
    out
}

/// The top-level object's members in reverse order, each key and value as written. `None` when
/// the body is not an object with two members or more.
pub fn reorder_keys(body: &[u8]) -> Option<Vec<u8>> {
    use serde::de::{Deserializer as _, MapAccess, Visitor};
    use serde_json::value::RawValue;

    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut members = Vec::new();
            while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                members.push(member);
            }
            Ok(members)
        }
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let members = deserializer.deserialize_map(Members).ok()?;
    if members.len() < 2 {
        return None;
    }
    let parts: Vec<String> = members
        .iter()
        .rev()
        .map(|(key, value)| {
            format!(
                "{}:{}",
                serde_json::to_string(key).unwrap_or_default(),
                value.get()
            )
        })
        .collect();
    Some(format!("{{{}}}", parts.join(",")).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_changes_one_thing() {
        let body = br#"{"a":"https:\/\/x.y\/z","b":"Zo\u00eb \ud83d\ude00 \\u0041 \" \\\/","c":[1,{}],"d":{"e":[]}}"#;
        assert_eq!(
            unescape_slashes(body),
            br#"{"a":"https://x.y/z","b":"Zo\u00eb \ud83d\ude00 \\u0041 \" \\/","c":[1,{}],"d":{"e":[]}}"#
        );
        assert_eq!(
            String::from_utf8(decode_unicode(body)).unwrap(),
            r#"{"a":"https:\/\/x.y\/z","b":"Zoë 😀 \\u0041 \" \\\/","c":[1,{}],"d":{"e":[]}}"#
        );
        let pretty =
            String::from_utf8(pretty(br#"{"a":"x, y: {z}","c":[1,{}],"d":{"e":[]}}"#)).unwrap();
        assert_eq!(
            pretty,
            "{\n  \"a\": \"x, y: {z}\",\n  \"c\": [\n    1,\n    {}\n  ],\n  \"d\": {\n    \"e\": []\n  }\n}"
        );
        let value: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(value["a"], "x, y: {z}");
        assert_eq!(
            reorder_keys(br#"{"a":"\/","b":{"x":1}}"#).unwrap(),
            br#"{"b":{"x":1},"a":"\/"}"#
        );
        assert_eq!(reorder_keys(b"[1,2]"), None);
        assert_eq!(reorder_keys(br#"{"a":1}"#), None);
    }
}
