//! A small pandas-equivalent case: PCs, targets and a design as clmtune writes them, read back
//! with `Table`, then filtered, pivoted, joined and sorted as a scientist would in pandas.
//!
//! The expected numbers were computed with pandas 3.1.1 (numpy 2.4.6) on the same three files:
//!
//! ```python
//! pcs = pd.read_csv("pcs.csv"); tg = pd.read_csv("targets.csv"); de = pd.read_csv("design.csv")
//! g = pcs[pcs.variable == "GPP"]
//! P = g.pivot(index="case", columns="mode", values="pc")
//! # P.values == [[0.3, -1.25], [0.1, 0.0025], [-0.7, 0.3333333333333333]]
//! t = tg[tg.variable == "GPP"].sort_values("mode")
//! cost = (((P.values - t.u_obs.values) / t.sigma.values) ** 2).sum(axis=1)
//! # cost == [5.078125, 1.6406640624999997, 18.40277777777778]
//! j = g.merge(de, on="case", how="inner")
//! # j[["medlynslope", "kmax"]] == [[.25, .5], [.25, .5], [.75, .125], [.75, .125], [.5, 1], [.5, 1]]
//! pcs[pcs.variable == "LH"].sort_values("pc", kind="stable").case
//! # ["ppe_003", "ppe_001", "ppe_002"]   (the missing PC last)
//! pcs[pcs.pc > 0]           # 5 rows, pc sum 4.735833333333334
//! pd.DataFrame({"case": P.index, "cost": cost}).merge(de, on="case").sort_values("cost")
//! # case ["ppe_002", "ppe_001", "ppe_003"], member [2, 1, 3]
//! ```
//!
//! By hand, member ppe_001: ((0.3 - 0.05) / 0.2)^2 + ((-1.25 + 0.5) / 0.4)^2 = 1.5625 +
//! 3.515625 = 5.078125. pandas names the two `member` columns of the join `member_x` and
//! `member_y`; `Table.join` keeps the left name and calls the right one `member_right`.

use clmtune::table::{Column, Table, Value};
use ndarray::array;

const PCS: &str = "variable,mode,member,case,pc
GPP,1,1,ppe_001,0.3
GPP,2,1,ppe_001,-1.25
GPP,1,2,ppe_002,0.1
GPP,2,2,ppe_002,2.5e-3
GPP,1,3,ppe_003,-0.7
GPP,2,3,ppe_003,0.3333333333333333
LH,1,3,ppe_003,-2
LH,1,1,ppe_001,4
LH,1,2,ppe_002,
";

const TARGETS: &str = "variable,mode,u_obs,sigma
GPP,1,0.05,0.2
GPP,2,-0.5,0.4
LH,1,1.5,1.0
";

const DESIGN: &str = "member,case,medlynslope,kmax
2,ppe_002,0.75,0.125
1,ppe_001,0.25,0.5
3,ppe_003,0.5,1
";

fn read(dir: &std::path::Path, name: &str, text: &str) -> Table {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    Table::read(&p).unwrap()
}

fn texts(c: &Column) -> Vec<String> {
    match c {
        Column::Text(v) => v.clone(),
        c => panic!("expected text, got {}", c.kind()),
    }
}

fn gpp() -> Value {
    Value::Text("GPP".into())
}

#[test]
fn pcs_targets_and_design_as_in_pandas() {
    let dir = tempfile::tempdir().unwrap();
    let pcs = read(dir.path(), "pcs.csv", PCS);
    let targets = read(dir.path(), "targets.csv", TARGETS);
    let design = read(dir.path(), "design.csv", DESIGN);

    // the types pandas infers: text, int, int, text, float
    let kinds: Vec<&str> = pcs
        .columns()
        .iter()
        .map(|c| pcs.column(c).unwrap().kind())
        .collect();
    assert_eq!(kinds, ["text", "numbers", "numbers", "text", "numbers"]);

    // members x modes
    let g = pcs.filter(&[("variable", gpp())]).unwrap();
    let (cases, modes, p) = g.pivot("case", "mode", "pc").unwrap();
    assert_eq!(texts(&cases), ["ppe_001", "ppe_002", "ppe_003"]);
    assert_eq!(modes, Column::Numbers(vec![1.0, 2.0]));
    assert_eq!(
        p,
        array![[0.3, -1.25], [0.1, 0.0025], [-0.7, 0.3333333333333333]]
    );

    // a cost per member from the targets, without a row position
    let t = targets
        .filter(&[("variable", gpp())])
        .unwrap()
        .sort("mode")
        .unwrap();
    let (u, s) = (t.numbers("u_obs").unwrap(), t.numbers("sigma").unwrap());
    let cost: Vec<f64> = p
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .zip(u.iter().zip(s))
                .map(|(x, (u, s))| ((x - u) / s).powi(2))
                .sum()
        })
        .collect();
    assert_eq!(cost, [5.078125, 1.6406640624999997, 18.40277777777778]);

    // the design's scalings of each PC row, joined through the case
    let j = g.join(&design, "case").unwrap();
    assert_eq!(
        j.columns(),
        [
            "variable",
            "mode",
            "member",
            "case",
            "pc",
            "member_right",
            "medlynslope",
            "kmax"
        ]
    );
    assert_eq!(
        j.to_array(&["medlynslope", "kmax"]).unwrap(),
        array![
            [0.25, 0.5],
            [0.25, 0.5],
            [0.75, 0.125],
            [0.75, 0.125],
            [0.5, 1.0],
            [0.5, 1.0]
        ]
    );
    assert_eq!(
        j.numbers("member").unwrap(),
        j.numbers("member_right").unwrap()
    );

    // the LH rows by PC, the missing one last
    let lh = pcs
        .filter(&[("variable", Value::Text("LH".into()))])
        .unwrap()
        .sort("pc")
        .unwrap();
    assert_eq!(
        texts(lh.column("case").unwrap()),
        ["ppe_003", "ppe_001", "ppe_002"]
    );

    // pc > 0
    let mask: Vec<bool> = pcs
        .numbers("pc")
        .unwrap()
        .iter()
        .map(|&x| x > 0.0)
        .collect();
    let w = pcs.where_mask(&mask).unwrap();
    assert_eq!(w.len(), 5);
    assert_eq!(
        w.numbers("pc").unwrap().iter().sum::<f64>(),
        4.735833333333334
    );

    // members ranked by cost, with their design rows
    let ranked = Table::from_columns(vec![
        ("case".into(), cases),
        ("cost".into(), Column::Numbers(cost)),
    ])
    .unwrap()
    .join(&design, "case")
    .unwrap()
    .sort("cost")
    .unwrap();
    assert_eq!(
        texts(ranked.column("case").unwrap()),
        ["ppe_002", "ppe_001", "ppe_003"]
    );
    assert_eq!(ranked.numbers("member").unwrap(), [2.0, 1.0, 3.0]);

    // saved and read back: the same table, and the file by the one number rule
    let out = dir.path().join("ranked.csv");
    ranked.write(&out).unwrap();
    assert_eq!(Table::read(&out).unwrap(), ranked);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "case,cost,member,medlynslope,kmax\n\
         ppe_002,1.6406640624999997,2,0.75,0.125\n\
         ppe_001,5.078125,1,0.25,0.5\n\
         ppe_003,18.40277777777778,3,0.5,1\n"
    );
}

#[test]
fn the_same_in_a_script() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("pcs.csv", PCS),
        ("targets.csv", TARGETS),
        ("design.csv", DESIGN),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let d = dir.path().display();
    let code = format!(
        r#"
        let pcs = read_table("{d}/pcs.csv");
        let t = read_table("{d}/targets.csv").filter(#{{variable: "GPP"}}).sort("mode");
        let p = pcs.filter(#{{variable: "GPP"}}).pivot("case", "mode", "pc");
        let z = (p - t["u_obs"]) / t["sigma"];
        let cost = sum(z * z, 1);
        let lh = pcs.filter(#{{variable: "LH"}}).sort("pc");
        [cost.to_list(), pcs.unique("case"), lh["case"], pcs.where(pcs["pc"] > 0).len(),
         pcs.join(read_table("{d}/design.csv"), "case").to_array(["kmax"]).sum()]
        "#
    );
    let engine = clmtune::script::engine();
    let r: rhai::Array = engine.eval(&code).unwrap();
    let cost: Vec<f64> = r[0]
        .clone()
        .into_array()
        .unwrap()
        .iter()
        .map(|x| x.as_float().unwrap())
        .collect();
    assert_eq!(cost, [5.078125, 1.6406640624999997, 18.40277777777778]);
    assert_eq!(r[1].to_string(), r#"["ppe_001", "ppe_002", "ppe_003"]"#);
    assert_eq!(r[2].to_string(), r#"["ppe_003", "ppe_001", "ppe_002"]"#);
    assert_eq!(r[3].as_int().unwrap(), 5);
    // kmax of the 9 PC rows: 3 x (0.5 + 0.125 + 1) = 4.875
    assert_eq!(r[4].as_float().unwrap(), 4.875);
}
