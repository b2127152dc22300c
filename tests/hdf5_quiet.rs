//! HDF5's error stack stays off the terminal on every thread. netCDF-C turns HDF5's printing
//! off for the thread that starts it, but a thread-safe HDF5 keeps that per thread: reading
//! an EOF analysis back on another thread printed 33 "HDF5-DIAG: Error detected" blocks (the
//! attributes netCDF-C looks for and does not find, a normal event). One test in its own
//! process, because it watches the process's standard error.

use clmtune::eof::{Eof, Weighting};
use ndarray::{array, Array3};
use std::io::Read;
use std::os::fd::AsRawFd;

#[test]
fn reading_netcdf4_files_on_new_threads_prints_nothing_from_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("eof.nc");
    // 4 members on 2 x 3 cells
    let st = Array3::from_shape_fn((4, 2, 3), |(m, i, j)| {
        ((m * 7 + i * 3 + j) as f64 * 0.37).sin()
    });
    let area = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let grid = clmtune::demo::fixture::tiny_grid();

    // standard error into a file while the threads work
    let err = tempfile::tempfile().unwrap();
    // SAFETY: plain descriptor calls; fd 2 is put back below
    let saved = unsafe { libc::dup(2) };
    assert!(saved >= 0);
    unsafe { libc::dup2(err.as_raw_fd(), 2) };
    let work = {
        let p = p.clone();
        move || {
            // written on one thread, read back on two others
            let e = Eof::new(&st, &area, None, Weighting::Area).unwrap();
            std::thread::scope(|s| {
                s.spawn(|| e.save(&p, &grid, "test").unwrap())
                    .join()
                    .unwrap();
            });
            let loaded =
                std::thread::spawn(move || Eof::load(&p).unwrap().0.singular_values().clone())
                    .join()
                    .unwrap();
            (e.singular_values().clone(), loaded)
        }
    };
    let result = std::thread::spawn(work).join();
    unsafe { libc::dup2(saved, 2) };
    unsafe { libc::close(saved) };

    let (written, read) = result.expect("the EOF round trip ran");
    assert_eq!(written, read, "the analysis read back");
    let mut text = String::new();
    let mut err = err;
    use std::io::Seek;
    err.seek(std::io::SeekFrom::Start(0)).unwrap();
    err.read_to_string(&mut text).unwrap();
    assert!(
        !text.contains("HDF5-DIAG"),
        "HDF5 printed {} error blocks:\n{}",
        text.matches("HDF5-DIAG").count(),
        text.chars().take(2000).collect::<String>()
    );
}
