//! The OpenAPI 3.0 document served at `/api`: the OGC API – Features paths, one items path per
//! collection with its property filters declared as query parameters (which is how GDAL and
//! QGIS learn them), and the `/api/...` JSON endpoints in brief.

use super::ogc::{self, CONFORMANCE, CRS84, Collection, DEFAULT_LIMIT, Kind, MAX_LIMIT};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The media type of an OpenAPI 3.0 document in JSON.
pub(super) const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";

/// `GET /api`: the OpenAPI document.
pub(super) async fn document(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = ogc::base_url(&headers);
    let name = state.atlas().district().name.clone();
    let body = build(&base, &name);
    ([(header::CONTENT_TYPE, OPENAPI_JSON)], body.to_string()).into_response()
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn geojson_content(schema: Value) -> Value {
    json!({ "application/geo+json": { "schema": schema } })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn parameter(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn ok(description: &str, content: Value) -> Value {
    json!({ "description": description, "content": content })
}

fn error(description: &str) -> Value {
    json!({ "description": description, "content": json_content(reference("Exception")) })
}

/// A GET operation answering JSON, with the usual error responses.
fn get_json(id: &str, summary: &str, tag: &str, parameters: Vec<Value>, schema: Value) -> Value {
    json!({ "get": {
        "operationId": id,
        "summary": summary,
        "tags": [tag],
        "parameters": parameters,
        "responses": {
            "200": ok(summary, json_content(schema)),
            "400": error("a malformed request; the message says what is wrong"),
            "404": error("nothing there"),
            "500": error("a server error"),
        },
    }})
}

/// The query parameter filtering `c`'s items on one of its properties.
fn queryable_parameter(q: &ogc::Queryable) -> Value {
    let schema = match q.kind {
        Kind::Text => json!({ "type": "string" }),
        Kind::Integer => json!({ "type": "integer", "minimum": 0 }),
        Kind::Boolean => json!({ "type": "boolean" }),
        Kind::OneOf(words) => json!({ "type": "string", "enum": words }),
    };
    json!({
        "name": q.name,
        "in": "query",
        "required": false,
        "style": "form",
        "explode": false,
        "description": format!("only features whose `{}` equals this: {}", q.name, q.description),
        "schema": schema,
    })
}

fn collection_paths(c: Collection, paths: &mut serde_json::Map<String, Value>) {
    let mut params = vec![parameter("bbox"), parameter("limit"), parameter("offset"), parameter("f")];
    params.extend(c.queryables().iter().map(queryable_parameter));
    paths.insert(
        format!("/collections/{}/items", c.id()),
        json!({ "get": {
            "operationId": format!("get_{}_items", c.id()),
            "summary": format!("{}: a page of features", c.title()),
            "description": format!(
                "{} Features are ordered by id; follow the `next` link for the following page. \
                 Property filters match exactly. Unknown query parameters are rejected (400).",
                c.description()
            ),
            "tags": ["Data"],
            "parameters": params,
            "responses": {
                "200": ok(
                    &format!("{} ({} geometries)", c.title(), c.geometry_type()),
                    geojson_content(reference("FeatureCollection")),
                ),
                "400": error("a malformed bbox, limit or offset, a bad filter value or an unknown parameter"),
                "404": error("no such collection"),
                "500": error("a server error"),
            },
        }}),
    );
    paths.insert(
        format!("/collections/{}/items/{{featureId}}", c.id()),
        json!({ "get": {
            "operationId": format!("get_{}_item", c.id()),
            "summary": format!("{}: one feature", c.title()),
            "tags": ["Data"],
            "parameters": [parameter("featureId"), parameter("f")],
            "responses": {
                "200": ok("the feature", geojson_content(reference("Feature"))),
                "400": error("an unknown parameter"),
                "404": error("no such feature, or one the caller may not see"),
                "500": error("a server error"),
            },
        }}),
    );
}

/// The `/api/...` JSON endpoints, briefly.
fn api_paths(paths: &mut serde_json::Map<String, Value>) {
    let any = json!({ "type": "object" });
    let fc = reference("FeatureCollection");
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 0 } });
    let bbox_required = json!({
        "name": "bbox", "in": "query", "required": true,
        "description": "minLon,minLat,maxLon,maxLat in degrees (WGS84)",
        "schema": { "type": "string" },
    });
    let simple = [
        ("/health", "health", "liveness: store backend and Atlas counts", "System", vec![], any.clone()),
        (
            "/api/district",
            "district",
            "the district: code, name, bbox, centre, KPI targets",
            "API",
            vec![],
            any.clone(),
        ),
        ("/api/grids", "grids", "every grid as a Feature with its KPIs", "API", vec![], fc.clone()),
        ("/api/grids/{id}", "grid", "one grid", "API", vec![id.clone()], reference("Feature")),
        (
            "/api/buildings",
            "buildings",
            "building footprints in a box (at most 10,000)",
            "API",
            vec![bbox_required, json!({ "name": "limit", "in": "query", "schema": { "type": "integer" } })],
            fc.clone(),
        ),
        ("/api/buildings/{id}", "building", "one building", "API", vec![id], reference("Feature")),
        ("/api/basemap", "basemap", "the base map drawn from the register's own geometry", "API", vec![], fc),
        (
            "/api/stats",
            "stats",
            "KPIs of every place at a level, today or at the end of a month of the history",
            "API",
            vec![
                json!({ "name": "level", "in": "query",
                        "schema": { "type": "string", "enum": ["district", "street", "community", "grid"] } }),
                json!({ "name": "month", "in": "query", "description": "YYYY-MM: at the end of that month (422 outside the history)",
                        "schema": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" } }),
            ],
            any.clone(),
        ),
    ];
    for (path, op, summary, tag, params, schema) in simple {
        paths.insert(path.into(), get_json(op, summary, tag, params, schema));
    }
    paths.insert(
        "/api/exports/{file}".into(),
        json!({ "get": {
            "operationId": "export",
            "summary": "a layer or table as a file: {grids|buildings|streets|communities|boundaries}.{geojson|csv|xlsx}, \
                        {staffing|assessment}.{csv|xlsx} (with the staffing endpoints' rule, cost_per_caseworker and \
                        month); the person-level ledgers answer 403",
            "tags": ["API"],
            "parameters": [
                { "name": "file", "in": "path", "required": true, "schema": { "type": "string" } },
                { "name": "lang", "in": "query", "schema": { "type": "string", "enum": ["zh", "en"] } },
            ],
            "responses": {
                "200": { "description": "the file", "content": {
                    "application/geo+json": {}, "text/csv": {},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                }},
                "403": error("a person-level ledger (exported only by the CLI until login lands)"),
                "404": error("an unknown layer or format"),
            },
        }}),
    );
    let post = |op: &str, summary: &str, media: Value| {
        json!({ "post": {
            "operationId": op,
            "summary": summary,
            "tags": ["API"],
            "requestBody": { "required": true, "content": media },
            "responses": {
                "200": ok("what was done", json_content(json!({ "type": "object" }))),
                "400": error("a malformed request"),
                "422": error("well-formed but not acceptable"),
            },
        }})
    };
    paths.insert(
        "/api/visits".into(),
        post("record_visit", "record a caseworker's visit (idempotent by client id)", json_content(any)),
    );
    let mut import = post(
        "import",
        "import a file: GeoJSON for boundaries, grids and buildings; an XLSX or CSV ledger for units, persons, \
         caseworkers, workplaces and visits",
        json!({
            "application/geo+json": { "schema": { "type": "object" } },
            "text/csv": { "schema": { "type": "string", "format": "binary" } },
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                { "schema": { "type": "string", "format": "binary" } },
        }),
    );
    import["post"]["parameters"] = json!([
        { "name": "kind", "in": "path", "required": true, "schema": { "type": "string", "enum": [
            "boundaries", "grids", "buildings", "units", "persons", "caseworkers", "workplaces", "visits"] } },
        { "name": "crs", "in": "query", "schema": { "type": "string", "enum": ["wgs84", "cgcs2000", "gcj-02", "bd-09"] } },
        { "name": "encoding", "in": "query", "schema": { "type": "string", "enum": ["utf-8", "gbk", "gb18030"] } },
        { "name": "skip_invalid", "in": "query", "schema": { "type": "boolean" } },
    ]);
    paths.insert("/api/imports/{kind}".into(), import);
    let q = |name: &str, schema: Value, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description });
    let metrics: Vec<&str> = rentgrid_analysis::metrics::Metric::ALL.iter().map(|m| m.as_str()).collect();
    let rule = || {
        q(
            "rule",
            json!({ "type": "string", "enum": ["ningbo", "nanjing", "wuxi", "taizhou"], "default": "ningbo" }),
            "the staffing rule (配备比例): Ningbo 500 migrants per caseworker, at least one per community; Nanjing 500 \
         residents or 50 rental households, whichever needs more; Wuxi 1,000 in concentrated and 400 in dispersed \
         housing; Taizhou 1,000",
        )
    };
    let cost = || {
        q(
            "cost_per_caseworker",
            json!({ "type": "number", "minimum": 0, "default": 22000 }),
            "yuan a year per caseworker",
        )
    };
    let mut staffing = get_json(
        "staffing",
        "caseworkers required (fractional and rounded), assigned, gap and yearly \
        cost of the district, every street, community and grid",
        "API",
        vec![rule(), cost()],
        json!({ "type": "object" }),
    );
    staffing["get"]["responses"]["400"] = error("an unknown rule or a bad cost; the message names the parameter");
    paths.insert("/api/staffing".into(), staffing);
    let mut coverage = get_json(
        "coverage",
        "each caseworker's contracted area (包干), dissolved, with its grids and load; \
        the grids nobody covers, those covered twice and the overloaded caseworkers",
        "API",
        vec![rule(), cost()],
        json!({ "type": "object" }),
    );
    coverage["get"]["responses"]["200"] = ok("GeoJSON areas", geojson_content(json!({ "type": "object" })));
    paths.insert("/api/coverage".into(), coverage);
    let mut assessment = get_json(
        "assessment",
        "the month's assessment (考核) of every caseworker: counts, spot-check \
        rates with 95% intervals, deductions, score and rank within the street",
        "API",
        vec![
            json!({ "name": "month", "in": "query", "required": true, "schema": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" } }),
            rule(),
        ],
        json!({ "type": "object" }),
    );
    assessment["get"]["responses"]["400"] = error("a missing or malformed month, or an unknown rule");
    paths.insert("/api/assessment".into(), assessment);
    let id_param =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } });
    let mut propose = post(
        "propose_territory",
        "a balanced, contiguous proposal of contracted areas for one street or \
        every street (stored): today's and the proposed quality (max load deviation, Polsby-Popper, grids changing \
        hands) and areas as GeoJSON",
        json_content(json!({ "type": "object", "properties": {
            "street": { "type": "string" },
            "mode": { "type": "string", "enum": ["minimal", "scratch"], "default": "minimal" },
            "epsilon": { "type": "number", "minimum": 0, "maximum": 1, "default": 0.05 },
            "rule": { "type": "string", "enum": ["ningbo", "nanjing", "wuxi", "taizhou"] },
        }})),
    );
    propose["post"]["responses"]["201"] = ok("the stored proposal", json_content(json!({ "type": "object" })));
    paths.insert("/api/territory/proposals".into(), propose);
    let mut read = get_json(
        "territory_proposal",
        "a stored proposal, with its status: open, stale (the contracts \
        changed since) or accepted",
        "API",
        vec![id_param.clone()],
        json!({ "type": "object" }),
    );
    read["get"]["responses"]["404"] = error("no proposal with this id");
    paths.insert("/api/territory/proposals/{id}".into(), read);
    let mut accept = post(
        "accept_territory",
        "accept a proposal: one transaction replaces its streets' contracts and \
        appends an audit row (who, when, before/after)",
        json_content(json!({ "type": "object", "required": ["by"],
            "properties": { "by": { "type": "string", "minLength": 1, "maxLength": 100 } } })),
    );
    accept["post"]["parameters"] = json!([id_param]);
    accept["post"]["responses"]["404"] = error("no proposal with this id");
    accept["post"]["responses"]["409"] = error("the proposal was accepted already, or is stale");
    paths.insert("/api/territory/proposals/{id}/accept".into(), accept);
    paths.insert(
        "/api/hotspots".into(),
        json!({ "get": {
            "operationId": "hotspots",
            "summary": "hot spots of a grid metric: Getis-Ord Gi*, Local Moran's I or emerging hot spots over the \
                        monthly history, as GeoJSON grids with value, statistic, z, p, q (FDR), fdr_significant and \
                        class, and a top-level description of the run (method, metric, weights, alpha, permutations, \
                        seed, n, months)",
            "tags": ["API"],
            "parameters": [
                q("method", json!({ "type": "string", "enum": ["gi", "lisa", "emerging"], "default": "gi" }), "the statistic"),
                q("metric", json!({ "type": "string", "enum": metrics, "default": "reg_rate" }), "the per-grid metric"),
                q("weights", json!({ "type": "string", "default": "queen" }),
                  "queen | rook | knn[:k] | distance:metres, optionally ,binary or ,row"),
                q("tessellation", json!({ "type": "string", "enum": ["grid", "h3"], "default": "grid" }),
                  "the areas analysed: the grids, or H3 hexagons (today's register, gi or lisa)"),
                q("resolution", json!({ "type": "integer", "minimum": 7, "maximum": 10, "default": 9 }),
                  "the H3 resolution, with tessellation=h3"),
                q("month", json!({ "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$" }),
                  "the metric at the end of this month (for emerging, the series ends there)"),
                q("alpha", json!({ "type": "number", "enum": [0.10, 0.05, 0.01], "default": 0.05 }), "FDR level"),
                q("permutations", json!({ "type": "integer", "minimum": 0, "maximum": 99_999, "default": 999 }),
                  "LISA permutations"),
                q("seed", json!({ "type": "integer", "minimum": 0, "default": 12345 }), "LISA permutation seed"),
            ],
            "responses": {
                "200": ok("grids with their statistics", geojson_content(json!({ "type": "object" }))),
                "400": error("a malformed parameter; the message names it"),
                "422": error("a month outside the history, or too few months for emerging hot spots"),
            },
        }}),
    );
}

/// The 蚕食法 sweep campaign endpoints and the unregistered candidates.
fn campaign_paths(paths: &mut serde_json::Map<String, Value>) {
    let object = json!({ "type": "object" });
    let int_path = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "integer", "minimum": 0 } });
    let query = |name: &str, required: bool, schema: Value, description: &str| json!({ "name": name, "in": "query", "required": required, "schema": schema, "description": description });
    let responses = |ok_status: &str, what: &str, content: Value, extra: &[(&str, &str)]| {
        let mut r = serde_json::Map::new();
        r.insert(ok_status.into(), ok(what, content));
        r.insert("400".into(), error("a malformed request; the message names the parameter"));
        r.insert("404".into(), error("no such campaign or block"));
        for (status, why) in extra {
            r.insert((*status).into(), error(why));
        }
        Value::Object(r)
    };
    paths.insert(
        "/api/unregistered-candidates".into(),
        json!({ "get": {
            "operationId": "unregistered_candidates",
            "summary": "buildings most likely to hide unregistered rentals, ranked by expected hidden units, each with \
                        its reasons (code, numbers, zh and en), a 90% interval and its grid, as GeoJSON points",
            "tags": ["Campaigns"],
            "parameters": [
                query("bbox", false, json!({ "type": "string" }), "minLon,minLat,maxLon,maxLat (WGS84); the district if left out"),
                query("limit", false, json!({ "type": "integer", "minimum": 1, "maximum": super::MAX_BUILDINGS, "default": 100 }), "most candidates returned"),
            ],
            "responses": responses("200", "candidates", geojson_content(object.clone()), &[]),
        }}),
    );
    let request = json!({
        "type": "object",
        "required": ["caseworkers", "start_date", "working_days", "buildings_per_day"],
        "properties": {
            "grids": { "type": "array", "items": { "type": "integer" }, "description": "the area as grid ids, or" },
            "polygon": { "type": "object", "description": "the area as a GeoJSON Polygon (or a Feature holding one)" },
            "caseworkers": { "type": "array", "items": { "type": "integer" } },
            "start_date": { "type": "string", "format": "date" },
            "working_days": { "type": "integer", "minimum": 1, "maximum": crate::campaign::MAX_WORKING_DAYS },
            "buildings_per_day": { "type": "integer", "minimum": 1, "maximum": crate::campaign::MAX_BUILDINGS_PER_DAY },
            "recheck_weeks": { "type": "integer", "minimum": 0, "maximum": crate::campaign::MAX_RECHECK_WEEKS, "default": crate::campaign::DEFAULT_RECHECK_WEEKS },
            "seed_block": { "type": "integer", "description": "start here instead of the weakest block" },
            "holidays": { "type": "array", "items": { "type": "string", "format": "date" } },
        },
    });
    paths.insert(
        "/api/campaigns".into(),
        json!({
            "get": {
                "operationId": "campaigns",
                "summary": "every sweep campaign with its progress",
                "tags": ["Campaigns"],
                "responses": responses("200", "campaigns", json_content(object.clone()), &[]),
            },
            "post": {
                "operationId": "plan_campaign",
                "summary": "plan and store a 蚕食法 sweep campaign: seed block, contiguous nibbling order, phases \
                            排查 → 清理 → 整治 → 巩固 per block, a daily schedule per caseworker with expected finds \
                            and the KPI the area should reach",
                "tags": ["Campaigns"],
                "requestBody": { "required": true, "content": json_content(request) },
                "responses": responses("201", "the stored campaign and its plan", json_content(object.clone()),
                    &[("422", "an empty area, an unknown grid or caseworker, a bad date, too few working days")]),
            },
        }),
    );
    paths.insert(
        "/api/campaigns/{id}".into(),
        json!({ "get": {
            "operationId": "campaign",
            "summary": "a campaign: its plan, its blocks as GeoJSON numbered in order with their phase, its progress",
            "tags": ["Campaigns"],
            "parameters": [int_path("id")],
            "responses": responses("200", "the campaign", json_content(object.clone()), &[]),
        }}),
    );
    paths.insert(
        "/api/campaigns/{id}/routes".into(),
        json!({ "get": {
            "operationId": "campaign_routes",
            "summary": "each caseworker's walk on a day from the community station: a LineString through the stops \
                        in order, the station and the numbered stops as points, street metres and the \
                        nearest-neighbour baseline",
            "tags": ["Campaigns"],
            "parameters": [int_path("id"), query("date", true, json!({ "type": "string", "format": "date" }), "the day")],
            "responses": responses("200", "the routes", geojson_content(object.clone()), &[]),
        }}),
    );
    paths.insert(
        "/api/campaigns/{id}/blocks/{block}/phase".into(),
        json!({ "post": {
            "operationId": "advance_block_phase",
            "summary": "move a block to its next phase (排查/清理/整治/巩固 or investigate/clear/rectify/consolidate)",
            "tags": ["Campaigns"],
            "parameters": [int_path("id"), int_path("block")],
            "requestBody": { "required": true, "content": json_content(json!({
                "type": "object", "required": ["phase"], "properties": { "phase": { "type": "string" } } })) },
            "responses": responses("200", "the block's phase", json_content(object),
                &[("409", "not the next phase in order"), ("422", "not a phase")]),
        }}),
    );
}

fn components() -> Value {
    let link = json!({
        "type": "object",
        "required": ["href"],
        "properties": {
            "href": { "type": "string" },
            "rel": { "type": "string" },
            "type": { "type": "string" },
            "title": { "type": "string" },
        },
    });
    json!({
        "parameters": {
            "bbox": {
                "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                "description": "only features whose bounding box meets this box: minLon,minLat,maxLon,maxLat (CRS84)",
                "schema": { "type": "array", "minItems": 4, "maxItems": 4, "items": { "type": "number" } },
            },
            "limit": {
                "name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                "description": format!("features per page; more than {MAX_LIMIT} is answered with {MAX_LIMIT}"),
                "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT },
            },
            "offset": {
                "name": "offset", "in": "query", "required": false, "style": "form", "explode": false,
                "description": "how many matching features to skip (the `next` link sets it)",
                "schema": { "type": "integer", "minimum": 0, "default": 0 },
            },
            "f": {
                "name": "f", "in": "query", "required": false, "style": "form", "explode": false,
                "description": "the format: JSON (GeoJSON for features)",
                "schema": { "type": "string", "enum": ["json"] },
            },
            "collectionId": {
                "name": "collectionId", "in": "path", "required": true,
                "schema": { "type": "string", "enum": Collection::ALL.map(Collection::id) },
            },
            "featureId": {
                "name": "featureId", "in": "path", "required": true,
                "description": "a feature's id: a number, or a street's or community's code",
                "schema": { "type": "string" },
            },
        },
        "schemas": {
            "Exception": {
                "type": "object",
                "required": ["code", "message"],
                "properties": { "code": { "type": "string" }, "message": { "type": "string" } },
            },
            "Link": link,
            "LandingPage": {
                "type": "object",
                "required": ["links"],
                "properties": {
                    "title": { "type": "string" },
                    "description": { "type": "string" },
                    "links": { "type": "array", "items": reference("Link") },
                },
            },
            "ConfClasses": {
                "type": "object",
                "required": ["conformsTo"],
                "properties": { "conformsTo": { "type": "array", "items": { "type": "string" } } },
            },
            "Collection": {
                "type": "object",
                "required": ["id", "links"],
                "properties": {
                    "id": { "type": "string" },
                    "title": { "type": "string" },
                    "description": { "type": "string" },
                    "links": { "type": "array", "items": reference("Link") },
                    "extent": { "type": "object" },
                    "itemType": { "type": "string" },
                    "crs": { "type": "array", "items": { "type": "string" } },
                },
            },
            "Collections": {
                "type": "object",
                "required": ["links", "collections"],
                "properties": {
                    "links": { "type": "array", "items": reference("Link") },
                    "collections": { "type": "array", "items": reference("Collection") },
                },
            },
            "Feature": {
                "type": "object",
                "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": { "type": "string", "enum": ["Feature"] },
                    "id": { "oneOf": [{ "type": "string" }, { "type": "integer" }] },
                    "geometry": { "type": "object", "nullable": true },
                    "properties": { "type": "object", "nullable": true },
                    "links": { "type": "array", "items": reference("Link") },
                },
            },
            "FeatureCollection": {
                "type": "object",
                "required": ["type", "features"],
                "properties": {
                    "type": { "type": "string", "enum": ["FeatureCollection"] },
                    "features": { "type": "array", "items": reference("Feature") },
                    "links": { "type": "array", "items": reference("Link") },
                    "timeStamp": { "type": "string", "format": "date-time" },
                    "numberMatched": { "type": "integer", "minimum": 0 },
                    "numberReturned": { "type": "integer", "minimum": 0 },
                },
            },
        },
    })
}

/// The document, with `base` (`http://host:port`, or empty) as its server.
fn build(base: &str, district: &str) -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "/".into(),
        get_json(
            "landing_page",
            "the landing page (ask for JSON: ?f=json)",
            "Capabilities",
            vec![parameter("f")],
            reference("LandingPage"),
        ),
    );
    paths.insert(
        "/api".into(),
        json!({ "get": {
            "operationId": "api_definition",
            "summary": "this document",
            "tags": ["Capabilities"],
            "responses": { "200": { "description": "the OpenAPI 3.0 document", "content": { OPENAPI_JSON: {} } } },
        }}),
    );
    paths.insert(
        "/conformance".into(),
        get_json(
            "conformance",
            "the conformance classes implemented",
            "Capabilities",
            vec![parameter("f")],
            reference("ConfClasses"),
        ),
    );
    paths.insert(
        "/collections".into(),
        get_json("collections", "the collections", "Capabilities", vec![parameter("f")], reference("Collections")),
    );
    paths.insert(
        "/collections/{collectionId}".into(),
        get_json(
            "collection",
            "one collection: its extent (CRS84) and links",
            "Capabilities",
            vec![parameter("collectionId"), parameter("f")],
            reference("Collection"),
        ),
    );
    for c in Collection::ALL {
        collection_paths(c, &mut paths);
    }
    api_paths(&mut paths);
    campaign_paths(&mut paths);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "rentgrid",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Rental housing and grid management of {district}: OGC API – Features for every layer ({}) \
                 and the web map's JSON API. Coordinates are WGS84 longitude/latitude ({CRS84}). Conforms to: {}.",
                Collection::ALL.map(Collection::id).join(", "),
                CONFORMANCE.join(", ")
            ),
            "license": { "name": "MIT" },
        },
        "servers": [{ "url": if base.is_empty() { "/" } else { base } }],
        "tags": [
            { "name": "Capabilities", "description": "what the service offers" },
            { "name": "Data", "description": "features of each collection" },
            { "name": "API", "description": "the web map's JSON endpoints" },
            { "name": "Campaigns", "description": "蚕食法 sweep campaigns and the unregistered candidates" },
            { "name": "System", "description": "operations" },
        ],
        "paths": paths,
        "components": components(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_every_operation_has_responses() {
        let doc = build("http://127.0.0.1:8080", "海曙区");
        let text = doc.to_string();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("\"$ref\":\"#/") {
            let tail = &rest[i + 9..];
            let end = tail.find('"').unwrap();
            let pointer = &tail[..end];
            assert!(doc.pointer(pointer).is_some(), "unresolved $ref #/{pointer}");
            rest = &tail[end..];
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'));
            for (method, op) in item.as_object().unwrap() {
                assert!(["get", "post"].contains(&method.as_str()));
                assert!(!op["responses"].as_object().unwrap().is_empty(), "{method} {path}");
            }
        }
    }
}
