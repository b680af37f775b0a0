// `missive read ID --save DIR`: a message's attachments written as files, under names that
// cannot leave DIR (safe_file_name.hpp) and never replace a file that is there.
#pragma once

#include <string>
#include <vector>

#include "mime_parse.hpp"

namespace missive::client {

// Writes each attachment into `dir` (created when missing, mode 0700) and returns the paths
// written, in order. Throws client_error 73 when a file cannot be created.
std::vector<std::string> save_attachments(const std::vector<mime::attachment_info>& attachments,
                                          const std::string& dir);

}  // namespace missive::client
