//! The domain model: the place hierarchy (区 → 街道 → 社区 → 网格 → 楼栋 → 出租房屋/户 → 人)
//! and the records caseworkers keep. Geometry is WGS84 longitude/latitude throughout.
//!
//! Identifiers are dense `u32`s assigned by the store; codes (12-digit statistical codes for
//! streets and communities) are the keys people use.

use geo::{LineString, MultiPolygon, Point, Polygon};
use serde::{Deserialize, Serialize};
use time::Date;

/// Identifier of a grid (网格).
pub type GridId = u32;
/// Identifier of a building (楼栋).
pub type BuildingId = u32;
/// Identifier of a rental unit (出租房屋).
pub type RentalUnitId = u32;
/// Identifier of a person record.
pub type PersonId = u32;
/// Identifier of a caseworker (综管员).
pub type CaseworkerId = u32;

/// 区 district: the top of the hierarchy a deployment serves.
#[derive(Debug, Clone, PartialEq)]
pub struct District {
    /// 6-digit administrative code, e.g. `330203`.
    pub code: String,
    /// Name, e.g. 海曙区.
    pub name: String,
    /// The district's outline.
    pub outline: MultiPolygon<f64>,
}

/// Whether a 街道-level unit is an urban sub-district or a town.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreetKind {
    /// 街道 urban sub-district.
    Subdistrict,
    /// 镇 town.
    Town,
    /// 乡 township.
    Township,
}

impl StreetKind {
    /// The kind implied by a Chinese name's last character.
    pub fn from_name(name: &str) -> Self {
        if name.ends_with('镇') {
            StreetKind::Town
        } else if name.ends_with('乡') {
            StreetKind::Township
        } else {
            StreetKind::Subdistrict
        }
    }
}

/// 街道 street (sub-district) or 乡镇 town.
#[derive(Debug, Clone, PartialEq)]
pub struct Street {
    /// 12-digit code, e.g. `330203001000`.
    pub code: String,
    /// Name, e.g. 南门街道.
    pub name: String,
    /// Sub-district, town or township.
    pub kind: StreetKind,
}

/// What a community mostly is, which drives its buildings and its people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommunityKind {
    /// 社区 urban residential community.
    Urban,
    /// 城中村 village inside the city: dense self-built rentals.
    UrbanVillage,
    /// Industrial fringe: factories and dormitories.
    Industrial,
    /// 村 rural village.
    Rural,
}

/// 社区/村 community or village.
#[derive(Debug, Clone, PartialEq)]
pub struct Community {
    /// 12-digit code, e.g. `330203001001`.
    pub code: String,
    /// Name, e.g. 澄浪社区.
    pub name: String,
    /// Code of the street it belongs to.
    pub street_code: String,
    /// Its character.
    pub kind: CommunityKind,
}

/// 网格 grid cell: the smallest responsibility unit, a polygon drawn along blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Dense id.
    pub id: GridId,
    /// Code: the community's 12 digits and a 3-digit sequence.
    pub code: String,
    /// Display name, e.g. 澄浪社区第2网格.
    pub name: String,
    /// Code of the community it belongs to.
    pub community_code: String,
    /// Its area.
    pub geometry: MultiPolygon<f64>,
}

/// 楼栋 building kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildingKind {
    /// Residential tower (高层住宅).
    Tower,
    /// Walk-up residential block (多层住宅).
    Walkup,
    /// Self-built village house (农民自建房), typical of 城中村.
    VillageHouse,
    /// Factory (厂房).
    Factory,
    /// Dormitory (宿舍 / 民工公寓): concentrated housing.
    Dormitory,
    /// Shop with rooms above (沿街商铺).
    Shop,
}

impl BuildingKind {
    /// All kinds, in a fixed order.
    pub const ALL: [BuildingKind; 6] = [
        BuildingKind::Tower,
        BuildingKind::Walkup,
        BuildingKind::VillageHouse,
        BuildingKind::Factory,
        BuildingKind::Dormitory,
        BuildingKind::Shop,
    ];

    /// The snake_case name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildingKind::Tower => "tower",
            BuildingKind::Walkup => "walkup",
            BuildingKind::VillageHouse => "village_house",
            BuildingKind::Factory => "factory",
            BuildingKind::Dormitory => "dormitory",
            BuildingKind::Shop => "shop",
        }
    }

    /// Parses [`BuildingKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// True for kinds people live in (everything but factories).
    pub fn is_residential(self) -> bool {
        !matches!(self, BuildingKind::Factory)
    }
}

/// 楼栋 building.
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    /// Dense id.
    pub id: BuildingId,
    /// 楼栋编号: the survey's id for it, which ledgers refer to (the demo numbers its buildings
    /// with their ids).
    pub external_id: String,
    /// The grid that holds its representative point.
    pub grid_id: GridId,
    /// Its kind.
    pub kind: BuildingKind,
    /// Address, e.g. 澄浪社区12号楼.
    pub address: String,
    /// Floors above ground.
    pub floors: u16,
    /// Dwellings (户) in it, rented or not.
    pub dwellings: u32,
    /// Utility accounts (水电表) on it: a signal of how many households really live there.
    pub utility_accounts: u32,
    /// Footprint.
    pub footprint: Polygon<f64>,
    /// A representative point inside the footprint (for point-in-grid assignment).
    pub point: Point<f64>,
}

/// 管理模式 how a rental unit is managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagementMode {
    /// 委托式 entrusted to an agency.
    Entrusted,
    /// 自治式 managed by the landlord.
    SelfManaged,
    /// 旅馆式 hotel-style.
    HotelStyle,
}

impl ManagementMode {
    /// The snake_case name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagementMode::Entrusted => "entrusted",
            ManagementMode::SelfManaged => "self_managed",
            ManagementMode::HotelStyle => "hotel_style",
        }
    }

    /// Parses [`ManagementMode::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [ManagementMode::Entrusted, ManagementMode::SelfManaged, ManagementMode::HotelStyle]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// 房东 landlord.
#[derive(Debug, Clone, PartialEq)]
pub struct Landlord {
    /// Dense id.
    pub id: u32,
    /// Name (sensitive).
    pub name: String,
    /// ID number (sensitive).
    pub id_number: String,
    /// Phone (sensitive).
    pub phone: String,
}

/// 出租房屋 rental unit known to the register.
#[derive(Debug, Clone, PartialEq)]
pub struct RentalUnit {
    /// Dense id.
    pub id: RentalUnitId,
    /// Building it is in.
    pub building_id: BuildingId,
    /// Landlord, if known (a unit found in the street may not have one recorded yet).
    pub landlord_id: Option<u32>,
    /// Room or flat label within the building, e.g. `3-302`.
    pub label: String,
    /// 登记/备案: registered with the authorities.
    pub registered: bool,
    /// When it was registered, if it is.
    pub registered_on: Option<Date>,
    /// 治安责任保证书: the landlord signed the safety pledge for it.
    pub pledge_signed: bool,
    /// Tenants living there, as last recorded.
    pub tenants: u32,
    /// Management mode.
    pub mode: ManagementMode,
    /// 集中居住: concentrated housing (dormitory, 民工公寓) rather than dispersed.
    pub concentrated: bool,
}

/// 户 household: the unit of the household card (一户一卡).
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    /// Dense id.
    pub id: u32,
    /// Rental unit the household lives in.
    pub rental_unit_id: RentalUnitId,
    /// Card number.
    pub card_no: String,
}

/// 流动人口 person record. Name, ID number and phone are sensitive personal information.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Dense id.
    pub id: PersonId,
    /// Household.
    pub household_id: u32,
    /// Building (denormalised from the household's unit, for aggregation).
    pub building_id: BuildingId,
    /// Name (sensitive).
    pub name: String,
    /// 身份证号 (sensitive), valid per GB 11643.
    pub id_number: String,
    /// Phone (sensitive).
    pub phone: String,
    /// 登记: registered.
    pub registered: bool,
    /// When registered.
    pub registered_on: Option<Date>,
    /// 办证: holds a residence permit (暂住证/居住证).
    pub permit: bool,
    /// 人户一致: lives at the registered address.
    pub consistent: bool,
    /// Employer, if known.
    pub workplace_id: Option<u32>,
}

/// 单位 workplace employing migrants (工作地管理法).
#[derive(Debug, Clone, PartialEq)]
pub struct Workplace {
    /// Dense id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Building it occupies, if any.
    pub building_id: Option<BuildingId>,
    /// Grid it lies in.
    pub grid_id: GridId,
    /// Location.
    pub point: Point<f64>,
    /// Employees.
    pub employees: u32,
    /// Migrant workers among them.
    pub migrant_workers: u32,
    /// Signed the management responsibility letter (required from 10 migrant workers up).
    pub responsibility_signed: bool,
    /// 五清: labour contracts signed.
    pub contracts_signed: u32,
    /// 五清: social insurance paid for.
    pub insured: u32,
}

/// 综管员 caseworker, contracted to a set of grids (包干法).
#[derive(Debug, Clone, PartialEq)]
pub struct Caseworker {
    /// Dense id.
    pub id: CaseworkerId,
    /// Name.
    pub name: String,
    /// Street team.
    pub street_code: String,
    /// Contracted grids.
    pub grids: Vec<GridId>,
}

/// 走访 a visit to a building, as recorded by a caseworker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// Dense id.
    pub id: u32,
    /// The id the client generated, so a retried submission is recognised.
    pub client_id: String,
    /// Building visited.
    pub building_id: BuildingId,
    /// Who visited, if recorded.
    pub caseworker_id: Option<CaseworkerId>,
    /// When.
    pub visited_on: Date,
    /// Rental units registered during the visit.
    pub units_registered: u32,
    /// Safety pledges signed during the visit.
    pub pledges_signed: u32,
    /// Rental units found that the register lacked.
    pub units_found: u32,
    /// Persons found that the register lacked.
    pub persons_found: u32,
    /// Free-text notes (no photos, no personal data).
    pub notes: String,
}

/// 暗查/反查 spot check of a caseworker's area by a supervisor.
#[derive(Debug, Clone, PartialEq)]
pub struct SpotCheck {
    /// Dense id.
    pub id: u32,
    /// Caseworker checked.
    pub caseworker_id: CaseworkerId,
    /// Grid sampled.
    pub grid_id: GridId,
    /// When.
    pub checked_on: Date,
    /// Households re-visited.
    pub households_checked: u32,
    /// 漏登记: persons found unregistered.
    pub missed_registration: u32,
    /// 漏办证: registered persons found without a permit they should have.
    pub missed_permit: u32,
    /// Records found wrong.
    pub wrong_records: u32,
}

/// A tip (举报) that a building holds unregistered rentals.
#[derive(Debug, Clone, PartialEq)]
pub struct Tip {
    /// Dense id.
    pub id: u32,
    /// Building named.
    pub building_id: BuildingId,
    /// When received.
    pub received_on: Date,
    /// What was said.
    pub text: String,
}

/// Road classes of the street network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoadClass {
    /// Arterial road linking towns and sub-districts.
    Arterial,
    /// Secondary road along community boundaries.
    Secondary,
    /// Local street between blocks.
    Local,
}

impl RoadClass {
    /// The snake_case name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RoadClass::Arterial => "arterial",
            RoadClass::Secondary => "secondary",
            RoadClass::Local => "local",
        }
    }

    /// Parses [`RoadClass::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [RoadClass::Arterial, RoadClass::Secondary, RoadClass::Local].into_iter().find(|c| c.as_str() == s)
    }
}

/// A road segment between two junctions of the street network.
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    /// Dense id.
    pub id: u32,
    /// Junction at the start.
    pub from_node: u32,
    /// Junction at the end.
    pub to_node: u32,
    /// Class.
    pub class: RoadClass,
    /// Geometry, from `from_node` to `to_node`.
    pub line: LineString<f64>,
    /// Length in metres.
    pub length_m: f64,
}

/// A city block: the land between streets. Grids are unions of blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Dense id.
    pub id: u32,
    /// The grid it belongs to.
    pub grid_id: GridId,
    /// Its outline.
    pub geometry: Polygon<f64>,
}

/// Ground truth the demo generator keeps and no register holds: occupied rental units and
/// persons that nobody registered, per building. Sweeps discover them; nothing else reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HiddenOccupancy {
    /// Building.
    pub building_id: BuildingId,
    /// Rental units the register does not know.
    pub units: u32,
    /// Persons living there whom the register does not know (in hidden and known units).
    pub persons: u32,
}

/// Everything a district's register holds: what a store saves and loads, and what the demo
/// generator produces.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// The district.
    pub district: District,
    /// Its streets and towns.
    pub streets: Vec<Street>,
    /// Its communities and villages.
    pub communities: Vec<Community>,
    /// Grids, indexed by id (`grids[i].id == i`).
    pub grids: Vec<Grid>,
    /// Blocks.
    pub blocks: Vec<Block>,
    /// Street network.
    pub roads: Vec<Road>,
    /// Buildings, indexed by id.
    pub buildings: Vec<Building>,
    /// Landlords.
    pub landlords: Vec<Landlord>,
    /// Rental units, indexed by id.
    pub rental_units: Vec<RentalUnit>,
    /// Households.
    pub households: Vec<Household>,
    /// Persons.
    pub persons: Vec<Person>,
    /// Workplaces.
    pub workplaces: Vec<Workplace>,
    /// Caseworkers.
    pub caseworkers: Vec<Caseworker>,
    /// Visits, oldest first.
    pub visits: Vec<Visit>,
    /// Spot checks.
    pub spot_checks: Vec<SpotCheck>,
    /// Tips.
    pub tips: Vec<Tip>,
    /// Demo ground truth (empty for real data).
    pub hidden: Vec<HiddenOccupancy>,
}

/// A calendar month, written `YYYY-MM`: the time step of the monthly history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u8,
}

impl Month {
    /// The month holding `date`.
    pub fn of(date: Date) -> Self {
        Self { year: date.year(), month: date.month() as u8 }
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month >= 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }

    /// The month before this one.
    pub fn previous(self) -> Self {
        if self.month <= 1 {
            Self { year: self.year - 1, month: 12 }
        } else {
            Self { year: self.year, month: self.month - 1 }
        }
    }

    /// The `n` months ending with this one, oldest first.
    pub fn last_n(self, n: usize) -> Vec<Month> {
        let mut months: Vec<Month> = std::iter::successors(Some(self), |m| Some(m.previous())).take(n).collect();
        months.reverse();
        months
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for Month {
    type Err = String;

    /// Parses `YYYY-MM`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("month {s:?} is not YYYY-MM, e.g. 2026-10");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

/// Registrations dated in one month in one building (登记日期/备案日期), and the persons who
/// moved in and out that month: what the monthly history is rebuilt from. Counts follow
/// [`crate::BuildingStats`]: permits, consistency and pledges count only for registered records.
/// A person registered at a home counts there from the month of their registration (or of their
/// moving in, when later) until the month they moved out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyRegistrations {
    /// Building.
    pub building_id: BuildingId,
    /// The month of the registration dates.
    pub month: Month,
    /// Persons registered that month.
    pub persons: u32,
    /// Of them, holding a permit.
    pub persons_with_permit: u32,
    /// Of them, living at the registered address.
    pub persons_consistent: u32,
    /// Rental units registered that month.
    pub rental_units: u32,
    /// Of them, with the landlord's pledge signed.
    pub pledges_signed: u32,
    /// Persons who moved in that month (new to the register, moved or come back).
    pub arrived: u32,
    /// Persons who moved out that month (moved within the district or left it).
    pub left: u32,
    /// Of them, registered there.
    pub left_registered: u32,
    /// Of those, holding a permit.
    pub left_with_permit: u32,
    /// Of those, living at the registered address.
    pub left_consistent: u32,
}

impl MonthlyRegistrations {
    /// No registrations yet in `building_id` for `month`.
    pub fn none(building_id: BuildingId, month: Month) -> Self {
        Self {
            building_id,
            month,
            persons: 0,
            persons_with_permit: 0,
            persons_consistent: 0,
            rental_units: 0,
            pledges_signed: 0,
            arrived: 0,
            left: 0,
            left_registered: 0,
            left_with_permit: 0,
            left_consistent: 0,
        }
    }
}

#[cfg(test)]
mod month_tests {
    use super::Month;

    #[test]
    fn months_parse_print_and_step() {
        let m: Month = "2026-01".parse().unwrap_or(Month { year: 0, month: 1 });
        assert_eq!(m, Month { year: 2026, month: 1 });
        assert_eq!(m.previous().to_string(), "2025-12");
        assert_eq!(m.previous().next(), m);
        assert_eq!(m.last_n(3).iter().map(Month::to_string).collect::<Vec<_>>(), ["2025-11", "2025-12", "2026-01"]);
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }
}
