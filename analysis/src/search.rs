//! 搜索 search: finding a place by what people type into a box — a street, community or grid by
//! its name or code, a building by its address (门牌地址) or survey id (楼栋编号), a caseworker by
//! name — by the whole name, its beginning, a part of it (`鼓楼` finds 鼓楼街道), or its pinyin in
//! full or by initials (`gulou`, `gl`).
//!
//! [`SearchIndex`] is built once over a district's places ([`places_of`]) and answers in memory:
//! whole names and codes, and their beginnings, from one sorted table; parts of Chinese names from
//! the entries holding each character; pinyin by matching the typed letters against each named
//! place's syllables (every reading of a character with more than one, so 江厦 is `jiangxia`). The
//! entries are kept in rank order, so each kind of match stops as soon as it has enough.

use rentgrid_geodata::{Atlas, Caseworker};
use std::borrow::Cow;
use std::collections::HashMap;

/// The longest query answered, in characters.
pub const MAX_QUERY_CHARS: usize = 64;

/// What a searchable place is, in rank order: at equal match, a street comes before a
/// community, a grid, a caseworker and a building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlaceKind {
    /// 街道/镇 street or town; its id is its index in [`Atlas::streets`].
    Street,
    /// 社区/村 community or village; its id is its index in [`Atlas::communities`].
    Community,
    /// 网格 grid; its id is the grid id.
    Grid,
    /// 综管员 caseworker; its id is the caseworker id.
    Caseworker,
    /// 楼栋 building; its id is the building id.
    Building,
}

/// One place as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// What it is.
    pub kind: PlaceKind,
    /// Its id within its kind (see [`PlaceKind`]).
    pub id: u32,
    /// Its name (a building's address), matched whole, by its beginning, by a part and, unless
    /// it is a building, by pinyin.
    pub name: String,
    /// Codes matched whole or by their beginning: statistical and grid codes, survey ids.
    pub codes: Vec<String>,
    /// The index of the street it lies in (a caseworker's: their team's), if known.
    pub street: Option<u32>,
}

/// How a place matched, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Match {
    /// The whole name or a whole code.
    Exact,
    /// The beginning of the name or of a code.
    Prefix,
    /// A part of the name.
    Part,
    /// The name's pinyin, in full or by initials (from its first syllable, or from a later one).
    Pinyin,
}

/// A place found, with how it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The place.
    pub place: &'a Place,
    /// How.
    pub matched: Match,
}

/// One character of a name as pinyin is matched against it: the plain readings of a Chinese
/// character (ü typed as `v` or `u`), or a letter or digit as it is.
type Syllable = Box<[Cow<'static, str>]>;

/// A place's pinyin: its syllables and the letters and digits they use (a quick test).
#[derive(Debug, Clone)]
struct Spelling {
    syllables: Box<[Syllable]>,
    letters: u64,
}

/// The search index over one district's places.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    /// The places, in rank order (kind, name length, name).
    places: Vec<Place>,
    /// Normalised names and codes with their place, sorted.
    keys: Vec<(Box<str>, u32)>,
    /// For each character of a Chinese name (not ASCII), the places holding it, ascending.
    holding: HashMap<char, Vec<u32>>,
    /// Normalised names, by place.
    names: Vec<Box<str>>,
    /// Pinyin of the named places (not buildings), with their place, in rank order.
    spellings: Vec<(u32, Spelling)>,
    /// Names of the district and its streets, dropped from the front of a query (a standard
    /// address 海曙区南门街道澄浪社区12-3幢 names the building 澄浪社区12-3幢).
    area_names: Vec<String>,
}

/// `s` as it is compared: full-width letters and digits as ASCII, ASCII lower case, no spaces.
pub fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The one-letter strings pinyin syllables of letters and digits are made of.
const ALNUM: [&str; 36] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
    "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
];

/// The bit of an ASCII letter or digit in a [`Spelling`]'s letters.
fn letter_bit(b: u8) -> u64 {
    match b {
        b'0'..=b'9' => 1 << (b - b'0'),
        b'a'..=b'z' => 1 << (10 + b - b'a'),
        _ => 0,
    }
}

/// The pinyin of `name`: each Chinese character with its plain readings (ü written `v` and
/// `u`, as keyboards type it), each letter and digit as itself; anything else is left out.
/// `None` when nothing is left.
fn spelling(name: &str) -> Option<Spelling> {
    use pinyin::ToPinyinMulti;
    let mut syllables: Vec<Syllable> = Vec::new();
    for c in name.chars() {
        if let Some(multi) = c.to_pinyin_multi() {
            let mut readings: Vec<Cow<'static, str>> = Vec::new();
            for p in multi {
                let plain = p.plain();
                let typed: Vec<Cow<'static, str>> = if plain.contains('ü') {
                    vec![plain.replace('ü', "v").into(), plain.replace('ü', "u").into()]
                } else {
                    vec![plain.into()]
                };
                for r in typed {
                    if !readings.contains(&r) {
                        readings.push(r);
                    }
                }
            }
            syllables.push(readings.into());
        } else if c.is_ascii_alphanumeric() {
            let b = c.to_ascii_lowercase() as u8;
            let i = if b.is_ascii_digit() { usize::from(b - b'0') } else { usize::from(b - b'a') + 10 };
            syllables.push(Box::new([Cow::Borrowed(ALNUM[i])]));
        }
    }
    let letters = syllables.iter().flat_map(|s| s.iter()).flat_map(|r| r.bytes()).fold(0, |m, b| m | letter_bit(b));
    (!syllables.is_empty()).then(|| Spelling { syllables: syllables.into(), letters })
}

/// True when `typed` is spelled by syllables `from..`, each giving a beginning of one of its
/// readings (`gl`, `gul`, `gulou` and `guloujd` all spell 鼓楼街道 from 0).
fn spells(typed: &[u8], syllables: &[Syllable]) -> bool {
    let Some((first, rest)) = syllables.split_first() else { return typed.is_empty() };
    if typed.is_empty() {
        return true;
    }
    first.iter().any(|reading| {
        let r = reading.as_bytes();
        let common = r.iter().zip(typed).take_while(|(a, b)| a == b).count();
        (1..=common).rev().any(|k| spells(&typed[k..], rest))
    })
}

impl Spelling {
    /// Where `typed` (lower-case letters and digits) is spelled: from the first syllable, from a
    /// later one, or not at all.
    fn find(&self, typed: &[u8], mask: u64, from_start_only: bool) -> bool {
        if mask & !self.letters != 0 {
            return false;
        }
        if from_start_only {
            return spells(typed, &self.syllables);
        }
        (1..self.syllables.len()).any(|i| spells(typed, &self.syllables[i..]))
    }
}

/// The places of `atlas` and its `caseworkers` that search finds.
pub fn places_of(atlas: &Atlas, caseworkers: &[Caseworker]) -> Vec<Place> {
    let mut out = Vec::new();
    for (i, s) in atlas.streets().iter().enumerate() {
        out.push(Place {
            kind: PlaceKind::Street,
            id: i as u32,
            name: s.street.name.clone(),
            codes: vec![s.street.code.clone()],
            street: Some(i as u32),
        });
    }
    for (i, c) in atlas.communities().iter().enumerate() {
        out.push(Place {
            kind: PlaceKind::Community,
            id: i as u32,
            name: c.community.name.clone(),
            codes: vec![c.community.code.clone()],
            street: Some(c.street as u32),
        });
    }
    for g in atlas.grids() {
        out.push(Place {
            kind: PlaceKind::Grid,
            id: g.grid.id,
            name: g.grid.name.clone(),
            codes: vec![g.grid.code.clone()],
            street: Some(g.street as u32),
        });
    }
    let street_of_code: HashMap<&str, u32> =
        atlas.streets().iter().enumerate().map(|(i, s)| (s.street.code.as_str(), i as u32)).collect();
    for c in caseworkers {
        out.push(Place {
            kind: PlaceKind::Caseworker,
            id: c.id,
            name: c.name.clone(),
            codes: Vec::new(),
            street: street_of_code.get(c.street_code.as_str()).copied(),
        });
    }
    for b in atlas.buildings() {
        out.push(Place {
            kind: PlaceKind::Building,
            id: b.id,
            name: b.address.clone(),
            codes: vec![b.external_id.clone()],
            street: atlas.grid(b.grid_id).map(|g| g.street as u32),
        });
    }
    out
}

impl SearchIndex {
    /// The index of `atlas`'s places and its `caseworkers`.
    pub fn of_atlas(atlas: &Atlas, caseworkers: &[Caseworker]) -> Self {
        let mut areas = vec![atlas.district().name.clone()];
        areas.extend(atlas.streets().iter().map(|s| s.street.name.clone()));
        Self::new(places_of(atlas, caseworkers), areas)
    }

    /// The index of `places`; `area_names` (the district's, its streets') are dropped from the
    /// front of a query that goes on after them.
    pub fn new(mut places: Vec<Place>, area_names: Vec<String>) -> Self {
        places.sort_by(|a, b| {
            (a.kind, a.name.chars().count(), &a.name, a.id).cmp(&(b.kind, b.name.chars().count(), &b.name, b.id))
        });
        let names: Vec<Box<str>> = places.iter().map(|p| normalize(&p.name).into_boxed_str()).collect();
        let mut keys: Vec<(Box<str>, u32)> = Vec::with_capacity(places.len() * 2);
        let mut holding: HashMap<char, Vec<u32>> = HashMap::new();
        for (i, (p, name)) in places.iter().zip(&names).enumerate() {
            let i = i as u32;
            if !name.is_empty() {
                keys.push((name.clone(), i));
            }
            for code in &p.codes {
                let code = normalize(code);
                if !code.is_empty() && name.as_ref() != code.as_str() {
                    keys.push((code.into_boxed_str(), i));
                }
            }
            let mut seen: Vec<char> = name.chars().filter(|c| !c.is_ascii()).collect();
            seen.sort_unstable();
            seen.dedup();
            for c in seen {
                holding.entry(c).or_default().push(i);
            }
        }
        keys.sort_unstable();
        let spellings = places
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind != PlaceKind::Building)
            .filter_map(|(i, p)| spelling(&p.name).map(|s| (i as u32, s)))
            .collect();
        let mut area_names: Vec<String> = area_names.iter().map(|a| normalize(a)).filter(|a| !a.is_empty()).collect();
        // Longest first, so a street named after its district's name is dropped whole.
        area_names.sort_by_key(|a| std::cmp::Reverse(a.len()));
        Self { places, keys, holding, names, spellings, area_names }
    }

    /// How many places it holds.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// True when it holds no place.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The normalised query: the district's and a street's name dropped from its front when
    /// something follows them.
    fn strip_areas(&self, q: &str) -> String {
        let mut q = normalize(q);
        loop {
            let Some(rest) = self.area_names.iter().find_map(|a| q.strip_prefix(a.as_str()).filter(|r| !r.is_empty()))
            else {
                return q;
            };
            q = rest.to_owned();
        }
    }

    /// The places of keys from `start` on that begin with `q`.
    fn keys_from<'a>(&'a self, q: &'a str) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        let start = self.keys.partition_point(|(k, _)| k.as_ref() < q);
        self.keys[start..].iter().take_while(move |(k, _)| k.starts_with(q)).map(|(k, i)| (k.as_ref(), *i))
    }

    /// Up to `limit` places that `visible` admits, best first: whole names and codes, then their
    /// beginnings, parts of names, and pinyin. An empty query finds nothing.
    pub fn search(&self, query: &str, limit: usize, visible: impl Fn(&Place) -> bool) -> Vec<Hit<'_>> {
        let q = self.strip_areas(query);
        let mut found: Vec<(u32, Match)> = Vec::new();
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let admits = |i: u32| visible(&self.places[i as usize]);
        // Adds the best `limit - found` places of `candidates` (place indexes) not found yet.
        let take = |found: &mut Vec<(u32, Match)>, mut candidates: Vec<u32>, m: Match, sorted: bool| {
            if !sorted {
                candidates.sort_unstable();
            }
            candidates.dedup();
            for i in candidates {
                if found.len() >= limit {
                    return;
                }
                if !found.iter().any(|(j, _)| *j == i) && admits(i) {
                    found.push((i, m));
                }
            }
        };
        let exact: Vec<u32> = self.keys_from(&q).filter(|(k, _)| *k == q).map(|(_, i)| i).collect();
        take(&mut found, exact, Match::Exact, false);
        if found.len() < limit {
            let prefix: Vec<u32> = self.keys_from(&q).filter(|(k, _)| *k != q).map(|(_, i)| i).collect();
            take(&mut found, prefix, Match::Prefix, false);
        }
        if found.len() < limit {
            let part = self.parts(&q, limit - found.len(), &found, &admits);
            take(&mut found, part, Match::Part, true);
        }
        // Pinyin: letters (and digits among them), never digits alone (codes and ids).
        let typed = q.as_bytes();
        if found.len() < limit
            && typed.iter().any(u8::is_ascii_lowercase)
            && typed.iter().all(u8::is_ascii_alphanumeric)
        {
            let mask = typed.iter().fold(0, |m, &b| m | letter_bit(b));
            for from_start in [true, false] {
                let hits: Vec<u32> = self
                    .spellings
                    .iter()
                    .filter(|(_, s)| s.find(typed, mask, from_start))
                    .map(|(i, _)| *i)
                    .filter(|&i| admits(i) && !found.iter().any(|(j, _)| *j == i))
                    .take(limit - found.len())
                    .collect();
                take(&mut found, hits, Match::Pinyin, true);
            }
        }
        found.into_iter().map(|(i, matched)| Hit { place: &self.places[i as usize], matched }).collect()
    }

    /// The first `want` admitted places, in rank order, whose name holds `q` after its beginning
    /// (a query with a Chinese character; others are matched by beginning and pinyin only).
    fn parts(&self, q: &str, want: usize, found: &[(u32, Match)], admits: &impl Fn(u32) -> bool) -> Vec<u32> {
        let mut rarest: Option<&Vec<u32>> = None;
        for c in q.chars().filter(|c| !c.is_ascii()) {
            match self.holding.get(&c) {
                None => return Vec::new(),
                Some(list) if rarest.is_none_or(|r| list.len() < r.len()) => rarest = Some(list),
                Some(_) => {}
            }
        }
        let Some(candidates) = rarest else { return Vec::new() };
        candidates
            .iter()
            .copied()
            .filter(|&i| {
                let name = &self.names[i as usize];
                !name.starts_with(q) && name.contains(q) && !found.iter().any(|(j, _)| *j == i) && admits(i)
            })
            .take(want)
            .collect()
    }

    /// The building whose address begins the query, when more follows it (a room: `302`,
    /// `302室`), and what follows, normalised. The longest address wins.
    pub fn building_and_rest(&self, query: &str) -> Option<(u32, String)> {
        let q = self.strip_areas(query);
        let ends: Vec<usize> = q.char_indices().map(|(i, _)| i).skip(1).collect();
        ends.into_iter().rev().find_map(|end| {
            let head = &q[..end];
            let start = self.keys.partition_point(|(k, _)| k.as_ref() < head);
            self.keys[start..]
                .iter()
                .take_while(|(k, _)| k.as_ref() == head)
                .map(|(_, i)| &self.places[*i as usize])
                .find(|p| p.kind == PlaceKind::Building && normalize(&p.name) == head)
                .map(|p| (p.id, q[end..].to_owned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rentgrid_geodata::AtlasInput;
    use rentgrid_geodata::demo::{self, DemoOptions};

    fn place(kind: PlaceKind, id: u32, name: &str, code: &str) -> Place {
        let codes = if code.is_empty() { Vec::new() } else { vec![code.to_owned()] };
        Place { kind, id, name: name.to_owned(), codes, street: None }
    }

    fn index() -> SearchIndex {
        SearchIndex::new(
            vec![
                place(PlaceKind::Street, 0, "鼓楼街道", "330203005000"),
                place(PlaceKind::Street, 1, "古林镇", "330203103000"),
                place(PlaceKind::Street, 2, "江厦街道", "330203002000"),
                place(PlaceKind::Community, 0, "鼓楼社区", "330203005001"),
                place(PlaceKind::Grid, 7, "鼓楼社区第2网格", "330203005001002"),
                place(PlaceKind::Building, 40, "鼓楼社区12-3幢", "40"),
                place(PlaceKind::Building, 41, "鼓楼社区12-31幢", "41"),
                place(PlaceKind::Building, 404, "月湖社区1-1号", "404"),
                place(PlaceKind::Caseworker, 3, "王小楼", ""),
            ],
            vec!["海曙区".into(), "鼓楼街道".into()],
        )
    }

    fn found(ix: &SearchIndex, q: &str) -> Vec<(PlaceKind, u32, Match)> {
        ix.search(q, 10, |_| true).iter().map(|h| (h.place.kind, h.place.id, h.matched)).collect()
    }

    #[test]
    fn whole_names_then_beginnings_then_parts_then_pinyin() {
        let ix = index();
        let r = found(&ix, "鼓楼");
        // Beginnings first, a street before a community, a grid and buildings; then the part.
        assert_eq!(
            r,
            vec![
                (PlaceKind::Street, 0, Match::Prefix),
                (PlaceKind::Community, 0, Match::Prefix),
                (PlaceKind::Grid, 7, Match::Prefix),
                (PlaceKind::Building, 40, Match::Prefix),
                (PlaceKind::Building, 41, Match::Prefix),
            ]
        );
        assert_eq!(found(&ix, "鼓楼街道")[0], (PlaceKind::Street, 0, Match::Exact));
        assert_eq!(found(&ix, "楼街"), vec![(PlaceKind::Street, 0, Match::Part)]);
        assert_eq!(found(&ix, "小楼"), vec![(PlaceKind::Caseworker, 3, Match::Part)]);
        assert_eq!(found(&ix, "第2网格"), vec![(PlaceKind::Grid, 7, Match::Part)]);
        assert!(found(&ix, "鼓楼公园").is_empty(), "every character must be there");
    }

    #[test]
    fn pinyin_in_full_and_by_initials_from_any_syllable() {
        let ix = index();
        let gl = found(&ix, "gl");
        // 鼓楼街道 (gu lou), 古林镇 (gu lin), 鼓楼社区 and its grid from their first syllable;
        // 王小楼 (wang xiao lou) has no g: buildings are not matched by pinyin.
        assert_eq!(
            &gl[..3],
            &[
                (PlaceKind::Street, 1, Match::Pinyin),
                (PlaceKind::Street, 0, Match::Pinyin),
                (PlaceKind::Community, 0, Match::Pinyin)
            ]
        );
        assert!(gl.iter().all(|(k, _, _)| *k != PlaceKind::Building));
        assert_eq!(found(&ix, "ｇｌ"), gl, "full-width letters");
        for q in ["gulou", "GuLou", "gulj", "guloujiedao", "gljd"] {
            assert_eq!(found(&ix, q)[0], (PlaceKind::Street, 0, Match::Pinyin), "{q}");
        }
        // 厦 reads xia (江厦, 厦门) and sha (大厦): both find it.
        assert_eq!(found(&ix, "jiangxia")[0].1, 2);
        assert_eq!(found(&ix, "jiangsha")[0].1, 2);
        // From a later syllable: 小楼 of 王小楼.
        assert!(found(&ix, "xiaolou").contains(&(PlaceKind::Caseworker, 3, Match::Pinyin)));
        // ü is typed v or u: 绿地 (lü di).
        let green = SearchIndex::new(vec![place(PlaceKind::Community, 9, "绿地社区", "")], vec![]);
        for q in ["lvdi", "ludi", "ldsq"] {
            assert_eq!(found(&green, q), vec![(PlaceKind::Community, 9, Match::Pinyin)], "{q}");
        }
        assert!(found(&ix, "gulouz").is_empty());
        assert!(found(&ix, "glq").is_empty());
    }

    #[test]
    fn codes_and_survey_ids_whole_or_by_their_beginning() {
        let ix = index();
        assert_eq!(found(&ix, "330203005001002"), vec![(PlaceKind::Grid, 7, Match::Exact)]);
        assert_eq!(
            found(&ix, "330203005")[..3],
            [
                (PlaceKind::Street, 0, Match::Prefix),
                (PlaceKind::Community, 0, Match::Prefix),
                (PlaceKind::Grid, 7, Match::Prefix)
            ]
        );
        assert_eq!(found(&ix, " 40 ")[0], (PlaceKind::Building, 40, Match::Exact));
        assert_eq!(found(&ix, "40")[1], (PlaceKind::Building, 404, Match::Prefix));
        assert_eq!(found(&ix, "４０")[0], (PlaceKind::Building, 40, Match::Exact), "full-width digits");
    }

    #[test]
    fn a_standard_address_names_its_building_and_room() {
        let ix = index();
        assert_eq!(found(&ix, "海曙区鼓楼街道鼓楼社区12-3幢")[0], (PlaceKind::Building, 40, Match::Exact));
        assert_eq!(ix.building_and_rest("海曙区鼓楼街道鼓楼社区12-3幢302室"), Some((40, "302室".into())));
        assert_eq!(ix.building_and_rest("鼓楼社区12-31幢 5"), Some((41, "5".into())));
        assert_eq!(ix.building_and_rest("鼓楼社区12-3幢"), None, "nothing follows the address");
        assert_eq!(ix.building_and_rest("月湖社区9-9号302"), None);
        // The district's name alone is not dropped: nothing would be left.
        assert!(found(&ix, "鼓楼街道").iter().any(|h| h.0 == PlaceKind::Street));
    }

    #[test]
    fn the_limit_and_what_is_visible_bound_the_answer() {
        let ix = index();
        assert_eq!(ix.search("鼓楼", 2, |_| true).len(), 2);
        let streets_hidden = ix.search("鼓楼", 10, |p| p.kind != PlaceKind::Street);
        assert_eq!(streets_hidden[0].place.kind, PlaceKind::Community);
        assert!(ix.search("", 10, |_| true).is_empty());
        assert!(ix.search("   ", 10, |_| true).is_empty());
        // Limited to one visible building, later ones are still found.
        let only_41 = ix.search("鼓楼社区12", 1, |p| p.id == 41 && p.kind == PlaceKind::Building);
        assert_eq!(only_41.len(), 1);
        assert_eq!(only_41[0].place.id, 41);
    }

    /// The streets of Haishu as China Daily romanises them ("Haishu district", chinadaily.com.cn,
    /// 2021-03-16: "Jishigang town, Gulin town, … Shiqi sub-district, … Longguan township"), each
    /// found by its romanised name in lower case and by its initials. 高桥镇 is not in that list.
    #[test]
    fn street_names_are_found_by_their_published_romanisation() {
        let city = demo::generate(&DemoOptions { scale: 0.02, ..Default::default() }, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let ix = SearchIndex::of_atlas(&atlas, &city.caseworkers);
        let published = [
            ("集士港镇", "Jishigang"),
            ("古林镇", "Gulin"),
            ("横街镇", "Hengjie"),
            ("鄞江镇", "Yinjiang"),
            ("洞桥镇", "Dongqiao"),
            ("章水镇", "Zhangshui"),
            ("石碶街道", "Shiqi"),
            ("月湖街道", "Yuehu"),
            ("西门街道", "Ximen"),
            ("江厦街道", "Jiangxia"),
            ("南门街道", "Nanmen"),
            ("鼓楼街道", "Gulou"),
            ("白云街道", "Baiyun"),
            ("望春街道", "Wangchun"),
            ("段塘街道", "Duantang"),
            ("龙观乡", "Longguan"),
        ];
        for (name, roman) in published {
            let street =
                |q: &str| ix.search(q, 20, |p| p.kind == PlaceKind::Street).iter().any(|h| h.place.name == name);
            assert!(street(&roman.to_lowercase()), "{name} by {roman}");
        }
        // The initials of 鼓楼街道 find it among the district's places of every kind.
        assert!(ix.search("gljd", 5, |_| true).iter().any(|h| h.place.name == "鼓楼街道"));
        assert!(ix.search("gl", 50, |_| true).iter().any(|h| h.place.name == "鼓楼街道"));
        // And every building by its survey id and its address.
        for b in atlas.buildings().iter().step_by(97) {
            assert_eq!(ix.search(&b.external_id, 1, |_| true)[0].place.id, b.id);
            let by_address = ix.search(&b.address, 1, |p| p.kind == PlaceKind::Building);
            assert_eq!((by_address[0].place.id, by_address[0].matched), (b.id, Match::Exact));
        }
    }
}
