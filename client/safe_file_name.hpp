// File names for saved attachments, without I/O: a name a message suggests is never trusted
// to stay inside the folder it is saved in.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace missive::client {

// The longest name made, in octets (NAME_MAX is 255 on Linux file systems).
inline constexpr std::size_t max_file_name = 200;

// A name for the attachment `suggested` (as the message names it; `index` counts from 1):
// only its last component after '/' or '\' (so "../../x" and "/etc/x" become "x"), each
// control character (C0, DEL, C1) as '_', leading dots removed (no "..", no hidden file),
// cut to max_file_name octets at a character boundary; "attachment-INDEX" when nothing is
// left.
std::string safe_file_name(std::string_view suggested, std::size_t index);

// The `n`th alternative to `name` when a file of that name exists: "report (n).pdf".
std::string numbered_file_name(std::string_view name, std::size_t n);

}  // namespace missive::client
