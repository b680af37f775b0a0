# Install rules and the Debian package: `cpack -G DEB` in the build directory writes
# missive_VERSION-RELEASE_ARCH.deb. CPack rather than dpkg-buildpackage: the package is
# made from these same install rules, so there is no debian/ tree to keep in step with the
# build, and the build directory the tests already have is all it needs.
include(GNUInstallDirs)

install(TARGETS missived missive RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/missived.toml DESTINATION /etc/missive)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/missived.service DESTINATION lib/systemd/system)

# Man pages and the changelog, compressed as Debian wants them: gzip -9, no name or
# time stamp in the header (-n), so that the package is reproducible.
set(compressed_docs)
foreach(source man/missive.1 man/missived.8 man/missived.toml.5 packaging/changelog)
  get_filename_component(name ${source} NAME)
  if(name STREQUAL "changelog")
    set(name changelog.Debian)
  endif()
  set(output ${CMAKE_BINARY_DIR}/packaging/${name}.gz)
  add_custom_command(OUTPUT ${output}
    COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/${source} > ${output}
    DEPENDS ${PROJECT_SOURCE_DIR}/${source}
    COMMENT "Compressing ${source}")
  list(APPEND compressed_docs ${output})
endforeach()
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/packaging)
add_custom_target(compressed_docs ALL DEPENDS ${compressed_docs})
install(FILES ${CMAKE_BINARY_DIR}/packaging/missive.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_BINARY_DIR}/packaging/missived.toml.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_BINARY_DIR}/packaging/missived.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
# Not uploaded to Debian, so its first changelog entry closes no ITP bug.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME missive)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright
              ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME missive)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER
    "Missive maintainers <maintainers@users.noreply.h-seed-5af6e1ae.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "store-and-forward mail relay and client")
set(CPACK_PACKAGE_DESCRIPTION
    "Missive accepts mail over SMTP, stores every accepted message durably before\n"
    "it answers 250 (SQLite, or PostgreSQL shared by several nodes), and delivers\n"
    "it in the background to local mailboxes, served over POP3, or onward by SMTP,\n"
    "retrying and bouncing what cannot be delivered. This package holds the relay\n"
    "missived, run by systemd as the user missive, and the client missive.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from dpkg-shlibdeps; adduser and deb-systemd-helper for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/conffiles ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_SOURCE_DIR}/packaging/prerm ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
