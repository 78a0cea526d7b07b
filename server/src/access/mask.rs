//! Masking of a person's sensitive fields (PIPL 敏感个人信息) in lists and unrevealed records:
//! ID numbers as `330203********1234`, phones as `138****5678`, names as `张*`.

/// An 18-digit ID number (身份证号) with its birth date and sequence hidden: the first 6 (the
/// place code) and the last 4 characters kept. Anything shorter than 10 characters is hidden whole.
pub fn id_number(id: &str) -> String {
    keep_ends(id, 6, 4)
}

/// A phone number with its middle hidden: `13812345678` → `138****5678`. Short numbers keep
/// less.
pub fn phone(p: &str) -> String {
    let n = p.chars().count();
    if n >= 11 { keep_ends(p, 3, 4) } else { keep_ends(p, 0, n.min(8) / 2) }
}

/// A name with all but its first character hidden, one `*` per character: `张三` → `张*`,
/// `欧阳娜娜` → `欧***`.
pub fn name(n: &str) -> String {
    let mut chars = n.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// `s` with all but its first `head` and last `tail` characters replaced by `*`; all of it
/// replaced when it is not longer than `head + tail`.
fn keep_ends(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n);
    }
    chars.iter().enumerate().map(|(i, &c)| if i < head || i >= n - tail { c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_as_the_issue_shows() {
        assert_eq!(id_number("33020319900307123X"), "330203********123X");
        assert_eq!(id_number("330203199003071234"), "330203********1234");
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(name("张三"), "张*");
        assert_eq!(name("欧阳娜娜"), "欧***");
        assert_eq!(name(""), "");
    }

    #[test]
    fn short_values_hide_more_not_less() {
        assert_eq!(id_number("12345"), "*****");
        assert_eq!(phone("87654321"), "****4321");
        assert_eq!(phone("123"), "**3");
        for s in ["", "1", "1234567890", "330203199003071234"] {
            assert_eq!(id_number(s).chars().count(), s.chars().count());
            assert!(id_number(s).chars().filter(|&c| c != '*').count() <= 10);
        }
    }
}
