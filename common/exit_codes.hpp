// Process exit statuses, after sysexits.h, shared by missived and missive.
#pragma once

namespace missive::exit_code {

inline constexpr int ok = 0;
inline constexpr int failure = 1;       // the operation was refused (e.g. the user exists)
inline constexpr int usage = 64;        // EX_USAGE: bad command line
inline constexpr int data_error = 65;   // EX_DATAERR: bad input data
inline constexpr int no_user = 67;      // EX_NOUSER: no such user
inline constexpr int unavailable = 69;  // EX_UNAVAILABLE
inline constexpr int software = 70;     // EX_SOFTWARE: an internal error
inline constexpr int os_error = 71;     // EX_OSERR: e.g. cannot listen on a port
inline constexpr int cant_create = 73;  // EX_CANTCREAT: e.g. the data directory is not writable
inline constexpr int temp_failure = 75; // EX_TEMPFAIL: try again later
inline constexpr int no_permission = 77;// EX_NOPERM
inline constexpr int config = 78;       // EX_CONFIG: bad configuration

}  // namespace missive::exit_code
