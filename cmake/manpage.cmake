# Writes OUT, a man page (section 1) of BIN made from its --help: NAME from
# SUMMARY, SYNOPSIS and OPTIONS from the usage text, verbatim. One source of
# truth: the page cannot drift from what the binary says.
execute_process(COMMAND "${BIN}" --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --help exited ${rc}")
endif()
execute_process(COMMAND "${BIN}" --version OUTPUT_VARIABLE version
                OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --version exited ${rc}")
endif()
string(REGEX REPLACE "\n.*" "" version "${version}")
# roff: a backslash is an escape, and a line starting with . or ' a request
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
string(REPLACE "\\" "\\\\" qversion "${version}")
file(WRITE "${OUT}" ".TH ${NAME} 1 \"\" \"${version}\" \"mdefleet\"
.SH NAME
${NAME} \\- ${SUMMARY}
.SH SYNOPSIS AND OPTIONS
.nf
${help}.fi
.SH FILES
.TP
.I ${SYSCONFDIR}/mdefleet.conf
the configuration read when no \\-\\-config is given (worker, producer)
.SH SEE ALSO
The README.md and docs/ of the mdefleet repository; mdefleet.conf.example
in the documentation folder lists every configuration key.
")
