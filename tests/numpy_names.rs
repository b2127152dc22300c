//! The numpy and xarray names of issue 19 as scripts use them: `a[i, j]` indexing, and
//! results checked against values recorded from numpy (the command is in each comment).

fn eval(src: &str) -> rhai::Dynamic {
    let engine = clmtune::script::engine();
    let mut scope = clmtune::script::base_scope("<test>", &[]);
    engine
        .eval_with_scope::<rhai::Dynamic>(&mut scope, src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn eval_err(src: &str) -> String {
    let engine = clmtune::script::engine();
    let mut scope = clmtune::script::base_scope("<test>", &[]);
    match engine.eval_with_scope::<rhai::Dynamic>(&mut scope, src) {
        Ok(v) => panic!("{src} gave {v} instead of an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn comma_indexing_reads_and_writes_like_numpy() {
    // a = numpy.array([[1, 2, 3], [4, 5, 6]]); a[0, 1] = 2.0; a[1, 0:2] = [4, 5]; a[:, 2] = [3, 6]
    let a = "let a = array([[1, 2, 3], [4, 5, 6]]);";
    assert_eq!(eval(&format!("{a} a[0, 1]")).as_float().unwrap(), 2.0);
    assert_eq!(
        eval(&format!("{a} a[1, 0..2].to_string()")).to_string(),
        "[4. 5.]"
    );
    assert_eq!(
        eval(&format!("{a} a[\":\", 2].to_string()")).to_string(),
        "[3. 6.]"
    );
    let i = "let i = 0;";
    assert_eq!(
        eval(&format!("{a} {i} a[i + 1, -1]")).as_float().unwrap(),
        6.0
    );
    // a[1, 1] = 50 writes one element
    assert_eq!(
        eval(&format!("{a} a[1, 1] = 50; sum(a)"))
            .as_float()
            .unwrap(),
        66.0
    );
    // commas elsewhere keep their meaning: calls, lists, maps, lists of lists
    assert_eq!(
        eval("fn f(x, y) { x + y } let l = [[1, 2], [3, 4]]; f(l[1][0], #{a: [1, 2]}.a[1])")
            .as_int()
            .unwrap(),
        5
    );
    assert_eq!(eval("[10, 20][1]").as_int().unwrap(), 20);
    assert_eq!(eval("let x = [1, 2]; x[0]").as_int().unwrap(), 1);
    // too many indices is an error in script words
    let e = eval_err(&format!("{a} a[0, 1, 2]"));
    assert!(e.contains("too many indices"), "{e}");
}

#[test]
fn numpy_names_from_a_script_match_numpy() {
    let f = |src: &str| eval(src).as_float().unwrap();
    // numpy.percentile([2, 4, 4, 4, 5, 5, 7, 9], 25) = 4.0
    assert_eq!(f("percentile(array([2, 4, 4, 4, 5, 5, 7, 9]), 25)"), 4.0);
    // numpy.corrcoef([1, 2, 3, 4], [2, 4, 5, 9])[0, 1] = 0.9647638212377322
    assert!((f("corrcoef([1, 2, 3, 4], [2, 4, 5, 9])[0, 1]") - 0.9647638212377322).abs() < 1e-12);
    // numpy.linalg.lstsq([[1, 0], [1, 1], [1, 2], [1, 3]], [1, 2, 2.5, 4.5])[0][1] = 1.1
    assert!(
        (f("lstsq([[1, 0], [1, 1], [1, 2], [1, 3]], [1, 2, 2.5, 4.5])[1]") - 1.1).abs() < 1e-12
    );
    // numpy.arange(24.).reshape(2, 3, 4).std(axis=(0, 2))[0] = 6.103277807866851
    assert!((f("std(arange(24).reshape([2, 3, 4]), [0, 2])[1]") - 6.103277807866851).abs() < 1e-12);
    // numpy.arange(24.).reshape(2, 3, 4).sum(axis=(0, 1, 2)) = 276.0
    assert_eq!(f("sum(arange(24).reshape([2, 3, 4]), [0, 1, 2])"), 276.0);
    // numpy.prod([]) = 1.0
    assert_eq!(f("prod(zeros([0]))"), 1.0);
    // numpy.interp(3.0, [1, 2], [10, 20]) = 20.0 (right of xp: the last fp)
    assert_eq!(f("interp(3.0, [1, 2], [10, 20])"), 20.0);
    let e = eval_err("interp(1.0, [2, 1], [10, 20])");
    assert!(e.contains("xp must be increasing"), "{e}");
    let e = eval_err("histogram(array([1, NAN]), 2)");
    assert!(e.contains("NaN"), "{e}");
    let e = eval_err("mean(arange(4), [0, 0])");
    assert!(e.contains("repeated axis"), "{e}");
}

#[test]
fn argsort_gives_ints_that_index_lists_and_arrays() {
    // python3 -c "import numpy as np; print(np.argsort([3.5, -1, 2, 2, np.nan, 0], kind='stable'))"
    //   -> [1 5 2 3 0 4]   (stable: the two 2s keep their order; NaN last)
    let x = "let x = array([3.5, -1, 2, 2, NAN, 0]);";
    let idx = eval(&format!("{x} argsort(x)")).into_array().unwrap();
    let ints: Vec<i64> = idx.iter().map(|d| d.as_int().unwrap()).collect();
    assert_eq!(ints, vec![1, 5, 2, 3, 0, 4]);
    // x[np.argsort(x)] -> [-1.  0.  2.  2.  3.5 nan], by take and by an Array of positions
    for pick in ["x.take(argsort(x), 0)", "x[array(argsort(x))]"] {
        assert_eq!(
            eval(&format!("{x} let y = {pick}; y.to_string()")).to_string(),
            "[-1.   0.   2.   2.   3.5  nan]",
            "{pick}"
        );
    }
    // the positions index a Rhai list
    assert_eq!(
        eval(&format!(
            "{x} let names = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]; names[argsort(x)[0]]"
        ))
        .into_string()
        .unwrap(),
        "b"
    );
    // np.argsort([[3, 1, 2], [0, 5, 4]], axis=1, kind='stable') -> [[1 2 0] [0 2 1]]
    assert_eq!(
        eval("argsort(array([[3, 1, 2], [0, 5, 4]]), 1)").to_string(),
        "[[1, 2, 0], [0, 2, 1]]"
    );
    // a list of positions inside a[...] is a multi-index: the error names the way out
    let e = eval_err(&format!("{x} x[argsort(x)]"));
    assert!(
        e.contains("too many indices") && e.contains("a.take(idx, 0)"),
        "{e}"
    );
}

#[test]
fn arrays_with_named_dimensions_and_coordinates_round_trip_through_netcdf() {
    // what xarray reads from the file this writes (checked by hand on the same file):
    //   d = xr.open_dataset(p); float(d.effect.sel(parameter="dint", mode=2)) -> 5.0
    //   bool(d.effect.isnull().sel(parameter="dint", mode=3)) -> True; d.effect.units ->
    //   'gC m-2 d-1'; d.pcs.dims -> ('member', 'mode'); d.pcs.mode -> [1.0, 2.0, 3.0]
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("effects.nc").display().to_string();
    let src = format!(
        r#"let x = #{{values: array([[1, 2, 3], [4, 5, NAN]]), dims: ["parameter", "mode"],
                    coords: #{{parameter: ["kmax", "dint"], mode: array([1, 2, 3])}},
                    units: "gC m-2 d-1", long_name: "effect"}};
           write_netcdf("{p}", #{{effect: x, pcs: #{{values: ones([4, 3]), dims: ["member", "mode"]}}}});
           let b = read_netcdf("{p}");
           [b.effect.dims, b.effect.coords.parameter, b.effect.values[1, 1], isnan(b.effect.values[1, 2]),
            b.effect.units, b.effect.long_name, b.pcs.dims, b.pcs.coords.mode.to_string()]"#
    );
    let out = eval(&src).to_string();
    assert_eq!(
        out,
        r#"[["parameter", "mode"], ["kmax", "dint"], 5.0, true, "gC m-2 d-1", "effect", ["member", "mode"], "[1. 2. 3.]"]"#
    );
    // a coordinate whose length is not the dimension's is refused, naming both
    let e = eval_err(&format!(
        r#"write_netcdf("{p}", #{{x: #{{values: zeros([2]), dims: ["mode"], coords: #{{mode: [1, 2, 3]}}}}}})"#
    ));
    assert!(
        e.contains("coordinate mode has 3 values for a dimension of length 2"),
        "{e}"
    );
}

#[test]
fn units_go_through_multiplication_as_powers() {
    // f * f * f is (gC/m^2/s)^3; its variance converts to (gC m-2 d-1)^2 by 86400^2
    assert_eq!(
        clmtune::field::units::product(
            &clmtune::field::units::product("gC/m^2/s", "gC/m^2/s"),
            "gC/m^2/s"
        ),
        "(gC/m^2/s)^3"
    );
    let (s, o) = clmtune::field::units::conversion("(gC/m^2/s)^2", "(gC m-2 d-1)^2").unwrap();
    assert_eq!((s, o), (86400.0 * 86400.0, 0.0));
}
