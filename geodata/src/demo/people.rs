//! Synthetic but plausible personal data: Chinese names, valid 18-digit ID numbers from the
//! provinces migrants come from, mobile numbers. Nothing here belongs to a real person.

use crate::idcard::IdNumber;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Common surnames, roughly by frequency.
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆",
    "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛",
];
/// Characters used in given names.
const GIVEN_M: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞", "鑫", "波", "宇",
    "浩", "凯", "健", "俊", "帆", "建", "国", "志", "文", "海", "东", "林", "成", "峰", "亮", "龙", "晨", "阳", "旭",
];
const GIVEN_F: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "燕", "娟", "霞", "玲", "桂", "英", "红", "梅", "兰", "婷", "雪", "琳", "慧",
    "莹", "倩", "洁", "萍", "颖", "露", "瑶", "怡", "佳", "欣", "蕾", "晶", "秀", "云", "凤", "琴", "丹", "月", "春",
];
const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157", "158", "159",
    "166", "173", "177", "180", "181", "182", "185", "186", "187", "188", "189", "191", "198", "199",
];

fn pick<'a>(xs: &[&'a str], rng: &mut ChaCha8Rng) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

/// A synthetic name for a man or a woman: a surname and one or two given characters.
pub fn name(male: bool, rng: &mut ChaCha8Rng) -> String {
    let pool = if male { GIVEN_M } else { GIVEN_F };
    let mut s = pick(SURNAMES, rng).to_string();
    s.push_str(pick(pool, rng));
    if rng.random_bool(0.6) {
        s.push_str(pick(pool, rng));
    }
    s
}

/// A valid ID number from one of `areas` for someone born between `min_year` and `max_year`.
pub fn id_number(areas: &[String], min_year: i32, max_year: i32, male: bool, rng: &mut ChaCha8Rng) -> IdNumber {
    loop {
        let area = areas.get(rng.random_range(0..areas.len().max(1))).map(String::as_str).unwrap_or("330203");
        let year = rng.random_range(min_year..=max_year);
        let month = rng.random_range(1..=12u8);
        let day = rng.random_range(1..=28u8);
        let seq = rng.random_range(0..500u16) * 2 + u16::from(male);
        let body = format!("{area}{year:04}{month:02}{day:02}{seq:03}");
        if let Some(id) = IdNumber::from_body(&body) {
            return id;
        }
    }
}

/// A mobile number.
pub fn phone(rng: &mut ChaCha8Rng) -> String {
    format!("{}{:08}", pick(MOBILE_PREFIXES, rng), rng.random_range(0..100_000_000u32))
}

/// A company name for a workplace.
pub fn company(street: &str, kind_factory: bool, n: u32, rng: &mut ChaCha8Rng) -> String {
    const TRADES_F: &[&str] = &["机械", "模具", "电器", "服装", "塑料", "五金", "汽配", "电子", "纺织", "包装"];
    const TRADES_S: &[&str] = &["餐饮", "便利店", "理发店", "快递站", "五金店", "水果店", "小吃店", "维修部"];
    let place = street.trim_end_matches(['街', '道', '镇', '乡']);
    if kind_factory {
        format!("宁波{}{}{}有限公司", place, pick(TRADES_F, rng), ["制造", "科技", "实业"][(n % 3) as usize])
    } else {
        format!("{}{}{}号{}", place, pick(SURNAMES, rng), n, pick(TRADES_S, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_ids_are_valid_and_match_gender() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let areas = vec!["340102".to_string(), "510104".to_string()];
        for i in 0..1000 {
            let male = i % 2 == 0;
            let id = id_number(&areas, 1965, 2005, male, &mut rng);
            assert_eq!(IdNumber::parse(id.as_str()).unwrap(), id);
            assert_eq!(id.is_male(), male);
        }
        let p = phone(&mut rng);
        assert_eq!(p.len(), 11);
        assert!(name(true, &mut rng).chars().count() >= 2);
    }
}
