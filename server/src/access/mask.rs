//! Masking of a person's sensitive fields (PIPL 敏感个人信息) in lists and unrevealed records:
//! ID numbers as `330203********1234`, phones as `138****5678`, names as `张*`.

use super::Role;

/// How much of a person's record a response shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disclosure {
    /// Names, ID numbers and phones masked: the default, and every list's.
    Masked,
    /// Shown in full, for the reason given (recorded in the audit log).
    Revealed {
        /// Why the caller needs the full record.
        reason: String,
    },
}

/// The fewest characters a reveal's reason may have.
pub const MIN_REASON_CHARS: usize = 4;

/// Why a reveal is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevealError {
    /// No reason, or one too short to mean anything (a 400).
    #[error("a reveal needs a reason of at least {MIN_REASON_CHARS} characters: ?reveal=true&reason=…")]
    NoReason,
    /// The role may not see unmasked records (a 403).
    #[error("the role {0} may not reveal a person's record")]
    NotAllowed(Role),
}

impl Disclosure {
    /// What `role` asking with `reveal` and `reason` may be shown.
    pub fn asked(role: Role, reveal: bool, reason: Option<&str>) -> Result<Disclosure, RevealError> {
        if !reveal {
            return Ok(Disclosure::Masked);
        }
        if !role.may_reveal() {
            return Err(RevealError::NotAllowed(role));
        }
        match reason.map(str::trim) {
            Some(r) if r.chars().count() >= MIN_REASON_CHARS => Ok(Disclosure::Revealed { reason: r.to_owned() }),
            _ => Err(RevealError::NoReason),
        }
    }

    /// The reason given, when revealed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Disclosure::Masked => None,
            Disclosure::Revealed { reason } => Some(reason),
        }
    }

    /// True when masked.
    pub fn masked(&self) -> bool {
        *self == Disclosure::Masked
    }

    /// `name` as this disclosure shows it.
    pub fn name(&self, n: &str) -> String {
        if self.masked() { name(n) } else { n.to_owned() }
    }

    /// `id` as this disclosure shows it.
    pub fn id_number(&self, id: &str) -> String {
        if self.masked() { id_number(id) } else { id.to_owned() }
    }

    /// `p` as this disclosure shows it.
    pub fn phone(&self, p: &str) -> String {
        if self.masked() { phone(p) } else { p.to_owned() }
    }
}

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
    fn a_reveal_needs_a_role_that_may_and_a_reason() {
        assert_eq!(Disclosure::asked(Role::Caseworker, false, None), Ok(Disclosure::Masked));
        assert_eq!(Disclosure::asked(Role::Caseworker, true, None), Err(RevealError::NoReason));
        assert_eq!(Disclosure::asked(Role::Caseworker, true, Some(" 核查 ")), Err(RevealError::NoReason));
        let ok = Disclosure::asked(Role::Supervisor, true, Some("核查住址信息")).unwrap_or(Disclosure::Masked);
        assert_eq!(ok.reason(), Some("核查住址信息"));
        assert_eq!(ok.id_number("330203199003071234"), "330203199003071234");
        for r in [Role::Leader, Role::Sysadmin, Role::Secadmin, Role::Auditor] {
            assert_eq!(Disclosure::asked(r, true, Some("enough of a reason")), Err(RevealError::NotAllowed(r)));
        }
        assert_eq!(Disclosure::Masked.phone("13812345678"), "138****5678");
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
