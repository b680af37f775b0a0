# embed_schema(NAME OUTPUT SYMBOL): turns schema/NAME/NNN_*.sql into a C++ source that
# defines `const std::vector<missive::migration> SYMBOL`, ordered by file name.
function(embed_schema name output symbol)
  file(GLOB sql_files CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/schema/${name}/*.sql)
  list(SORT sql_files)
  # A CMake list's ';' would end the shell command: the script gets the files '|'-separated.
  string(REPLACE ";" "|" files_arg "${sql_files}")
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DSYMBOL=${symbol} "-DFILES=${files_arg}"
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_schema_run.cmake
    DEPENDS ${sql_files} ${CMAKE_SOURCE_DIR}/cmake/embed_schema_run.cmake
    COMMENT "Embedding schema/${name}"
    VERBATIM)
  set_source_files_properties(${output} PROPERTIES GENERATED TRUE)
endfunction()
