#!/usr/bin/env python3
"""Writes the seed corpus in tests/fuzz/corpus/<target>/: ordinary inputs, and the hostile
ones of issue 5 (SMTP smuggling variants, NUL bytes, over-long lines, 10,000 pipelined RCPTs,
SIZE lies, CR/LF/NUL in AUTH=/ORCPT=/ENVID=, shell metacharacters in addresses, non-ASCII
addresses, an endless reply, POP3 commands over 255 octets, broken MIME).

Run it again after adding a seed here; it only (re)writes the files it names. Inputs libFuzzer
finds are not kept here (scripts/fuzz.sh runs on a scratch copy); a crash found is minimised
and kept under tests/fuzz/crashes/<target>/ instead.
"""
import pathlib
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target: str, name: str, data) -> None:
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


# The smuggling variants (https://sec-consult.com/blog/detail/smtp-smuggling-spoofing-e-mails-worldwide/):
# line ends other than CRLF around a ".", each followed by a smuggled second transaction.
SMUGGLING = {
    "lf_dot_lf": b"\n.\n",
    "lf_dot_crlf": b"\n.\r\n",
    "crlf_dot_lf": b"\r\n.\n",
    "cr_dot_cr": b"\r.\r",
    "crlf_nul_dot_crlf": b"\r\n\x00.\r\n",
    "cr_cr_lf": b"\r\r\n",
}
SMUGGLED = b"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nFrom: admin@bank.example\r\n\r\nsmuggled\r\n.\r\n"


def smtp_command() -> None:
    t = "fuzz_smtp_command"
    seeds = {
        "ehlo": b"EHLO client.example.test",
        "helo_nul": b"HELO cli\x00ent.example",
        "data_nul": b"DA\x00TA",
        "mail_plain": b"MAIL FROM:<alice@example.test>",
        "mail_params": b"MAIL FROM:<alice@example.test> SIZE=1000 BODY=8BITMIME",
        "mail_space": b"mail from: <alice@example.test> body=7bit",
        "mail_null": b"MAIL FROM:<>",
        "mail_smtputf8": "MAIL FROM:<用户@例子.广告> SMTPUTF8".encode(),
        "mail_utf8_without_smtputf8": "MAIL FROM:<jösé@exämple.de>".encode(),
        "mail_bad_utf8": b"MAIL FROM:<\xff\xfe@example.test> SMTPUTF8",
        "size_lie_huge": b"MAIL FROM:<a@example.test> SIZE=99999999999999999999",
        "size_lie_21_digits": b"MAIL FROM:<a@example.test> SIZE=100000000000000000000",
        "size_lie_small": b"MAIL FROM:<a@example.test> SIZE=1",
        "size_negative": b"MAIL FROM:<a@example.test> SIZE=-1",
        "size_repeated": b"MAIL FROM:<a@example.test> SIZE=10 SIZE=20",
        "size_empty": b"MAIL FROM:<a@example.test> SIZE=",
        "auth_param": b"MAIL FROM:<a@example.test> AUTH=<>",
        "auth_param_crlf": b"MAIL FROM:<a@example.test> AUTH=x\r\nRCPT TO:<b@example.test>",
        "auth_param_nul": b"MAIL FROM:<a@example.test> AUTH=a\x00b",
        "auth_param_cr": b"MAIL FROM:<a@example.test> AUTH=a\rb",
        "envid_nul": b"MAIL FROM:<a@example.test> ENVID=abc\x00def",
        "envid_lf": b"MAIL FROM:<a@example.test> ENVID=a\nb RET=HDRS",
        "orcpt_cr": b"RCPT TO:<b@example.test> ORCPT=rfc822;x\ry",
        "orcpt_crlf": b"RCPT TO:<b@example.test> ORCPT=rfc822;b@example.test\r\nDATA",
        "orcpt_nul": b"RCPT TO:<b@example.test> NOTIFY=NEVER ORCPT=rfc822;\x00",
        "rcpt_plain": b"RCPT TO:<bob@example.test>",
        "rcpt_postmaster": b"RCPT TO:<Postmaster>",
        "rcpt_route": b"RCPT TO:<@relay1.example,@relay2.example:bob@example.test>",
        "rcpt_literal4": b"RCPT TO:<bob@[192.0.2.1]>",
        "rcpt_literal6": b"RCPT TO:<bob@[IPv6:2001:db8::1]>",
        "rcpt_quoted": b'RCPT TO:<"bob smith"@example.test>',
        "rcpt_shell": b"RCPT TO:<;sleep 1;>",
        "rcpt_shell_local": b"RCPT TO:<$(reboot)@example.test>",
        "rcpt_backticks": b"RCPT TO:<`id`@example.test>",
        "rcpt_sql": b"RCPT TO:<'; DROP TABLE users;--@example.test>",
        "rcpt_nul": b"RCPT TO:<bo\x00b@example.test>",
        "rcpt_utf8": "RCPT TO:<jösé@exämple.de>".encode(),
        "long_local_part": b"RCPT TO:<" + b"a" * 65 + b"@example.test>",
        "long_domain": b"RCPT TO:<a@" + b"b" * 63 + b"." + b"c" * 63 + b"." + b"d" * 63 + b"." + b"e" * 70 + b">",
        "long_line": b"MAIL FROM:<" + b"a" * 600 + b"@example.test>",
        "long_ehlo": b"EHLO " + b"x" * 2000,
        "auth_plain": b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U=",
        "auth_plain_bad_padding": b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U",
        "auth_plain_crlf": b"AUTH PLAIN AGFs\r\naWNlAA==",
        "auth_plain_three_nuls": b"AUTH PLAIN AGEAYgBj",
        "auth_login": b"AUTH LOGIN YWxpY2U=",
        "http_get": b"GET / HTTP/1.1",
        "http_post": b"POST /submit HTTP/1.1",
        "http_connect": b"CONNECT mail.example.test:25 HTTP/1.1",
        "bdat": b"BDAT 1000 LAST",
        "starttls_pipelined": b"STARTTLS\r\nMAIL FROM:<evil@example.test>",
    }
    for name, data in seeds.items():
        write(t, name, data)
    # 10,000 pipelined RCPTs in one read (240 KB): one line to the parser, CRLFs and all.
    write(t, "rcpt_10000_pipelined",
          b"".join(b"RCPT TO:<r%04d@a.test>\r\n" % i for i in range(10000)))


def data_reader() -> None:
    t = "fuzz_data_reader"
    header = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\n"
    for name, ending in SMUGGLING.items():
        write(t, "smuggle_" + name, header + b"body" + ending + SMUGGLED)
    seeds = {
        "empty": b".\r\n",
        "simple": header + b"Hello Bob.\r\n.\r\n",
        "dot_stuffed": header + b"..leading dot\r\n...\r\n.x\r\n.\r\n",
        "dot_line_then_more": header + b"..\r\n.\r\nQUIT\r\n",
        "pipelined_after_end": header + b"x\r\n.\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n",
        "nul_in_body": header + b"a\x00b\r\n.\r\n",
        "nul_at_line_start": header + b"\x00.\r\n.\r\n",
        "bare_cr_end": header + b"x\r",
        "bare_lf_only": b"line one\nline two\n.\n",
        "cr_only": b"line one\rline two\r.\r",
        "dot_cr_x": b".\rx\r\n.\r\n",
        "line_998": b"a" * 998 + b"\r\n.\r\n",
        "line_999": b"a" * 999 + b"\r\n.\r\n",
        "line_998_stuffed": b"." + b"a" * 998 + b"\r\n.\r\n",
        "over_long_line": b"b" * 5000 + b"\r\n.\r\n",
        "no_end": header + b"the client never sends the final dot\r\n",
        # A SIZE lie: MAIL FROM said SIZE=100, the data is 20 KB (the fuzz target also reads
        # every input with a limit of half its size).
        "size_lie": header + (b"x" * 70 + b"\r\n") * 280 + b".\r\n",
        "8bit": header + "Grüße, Jörg\r\n".encode() + b".\r\n",
    }
    for name, data in seeds.items():
        write(t, name, data)


def reply_parser() -> None:
    t = "fuzz_reply_parser"
    seeds = {
        "greeting": b"220 mx.example.test ESMTP ready\r\n",
        "ehlo": b"250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
        "enhanced": b"250 2.1.0 Ok\r\n",
        "enhanced_multiline": b"550-5.1.1 No such user\r\n550 5.1.1 here\r\n",
        "enhanced_mixed": b"550-5.1.1 No such user\r\n550 try elsewhere\r\n",
        "bare_lf": b"250-a\n250 b\n",
        "code_only": b"250\r\n",
        "pipelined": b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
        "codes_differ": b"250-a\r\n251 b\r\n",
        "four_digits": b"2500 x\r\n",
        "one_yz": b"150 x\r\n",
        "six_hundred": b"600 x\r\n",
        "no_space": b"250x\r\n",
        "nul": b"250 a\x00b\r\n",
        "cr_inside": b"250 a\rb\r\n",
        "line_510": b"250 " + b"a" * 506 + b"\r\n",
        "line_511": b"250 " + b"a" * 507 + b"\r\n",
        # A hostile next hop: a reply that never ends, and a line that never ends.
        "endless_reply": b"250-more to come\r\n" * 150,
        "endless_line": b"250-" + b"A" * 5000,
        "enhanced_edge": b"250 2.0.0\r\n250 4.999.999 x\r\n250 5.1234.1 x\r\n",
    }
    for name, data in seeds.items():
        write(t, name, data)


def address() -> None:
    t = "fuzz_address"
    seeds = {
        "plain": b"<alice@example.test>",
        "null": b"<>",
        "bare": b"alice@example.test",
        "quoted": b'<"alice smith"@example.test>',
        "quoted_escapes": b'<"a\\"b\\\\c"@example.test>',
        "quoted_empty": b'<""@example.test>',
        "route": b"<@a.example,@b.example:alice@example.test>",
        "literal4": b"<alice@[192.0.2.1]>",
        "literal4_bad": b"<alice@[192.0.2.256]>",
        "literal6": b"<alice@[IPv6:2001:db8::1]>",
        "literal6_v4": b"<alice@[IPv6:::ffff:192.0.2.1]>",
        "literal_general": b"<alice@[x-tag:some-content]>",
        "shell": b"<;sleep 1;>",
        "shell_local": b"<$(touch /tmp/x)@example.test>",
        "sql": b"<'); DELETE FROM queue; --@example.test>",
        "crlf": b"<alice@example.test\r\n>",
        "nul": b"<ali\x00ce@example.test>",
        "quoted_nul": b'<"ali\x00ce"@example.test>',
        "quoted_crlf": b'<"a\\\r\\\n"@example.test>',
        "utf8": "<jösé@exämple.de>".encode(),
        "utf8_bare": "用户@例子.广告".encode(),
        "bad_utf8": b"<\xc3\x28@example.test>",
        "local_64": b"<" + b"a" * 64 + b"@example.test>",
        "local_65": b"<" + b"a" * 65 + b"@example.test>",
        "path_257": b"<a@" + (b"b" * 60 + b".") * 4 + b"cc>",
        "postmaster": b"<postmaster>",
        "double_at": b"<a@b@example.test>",
        "gt_in_quotes": b'<"a>b"@example.test>',
        "dots": b"<a..b@example.test>",
        "trailing": b"<alice@example.test> SIZE=10",
    }
    for name, data in seeds.items():
        write(t, name, data)


def headers() -> None:
    t = "fuzz_headers"
    seeds = {
        "simple": b"From: a@example.test\r\nTo: b@example.test\r\nMessage-ID: <1@x>\r\nDate: Sat, 21 Nov 2026 18:49:00 +0000\r\n\r\nbody\r\nline 2\r\n",
        "folded": b"Subject: a\r\n folded\r\n\tagain\r\nReceived: from x\r\n by y\r\n\r\nbody\r\n",
        "no_blank_line": b"From: a@example.test\r\nSubject: only headers\r\n",
        "starts_with_body": b"just text\r\nmore\r\n",
        "starts_empty": b"\r\nbody only\r\n",
        "bare_lf": b"From: a\nSubject: b\n\nbody\n",
        "nul": b"Fr\x00om: a\r\n\r\nb\x00ody\r\n",
        "loop": b"".join(b"Received: from hop%d.example by hop%d.example\r\n" % (i, i + 1) for i in range(51)) + b"\r\nbody\r\n",
        "crlf_injection": b"Subject: x\r\nBcc: victim@example.test\r\n\r\n",
        "long_header": b"Subject: " + b"x" * 3000 + b"\r\n\r\nbody\r\n",
        "8bit": "Subject: Grüße\r\nFrom: jörg@exämple.de\r\n\r\nbody\r\n".encode(),
        "colon_first": b":no name\r\n\r\n",
    }
    for name, data in seeds.items():
        write(t, name, data)


def pop3_command() -> None:
    t = "fuzz_pop3_command"
    seeds = {
        "user": b"USER alice@example.test",
        "pass_spaces": b"PASS correct horse battery staple",
        "apop": b"APOP alice c4c9334bac560ecc979e58001b3e22fb",
        "auth_plain": b"AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2U=",
        "capa": b"CAPA",
        "stls": b"STLS",
        "stat": b"STAT",
        "list": b"LIST 1",
        "retr": b"RETR 1",
        "top": b"TOP 1 10",
        "uidl_max": b"UIDL 4294967295",
        "number_overflow": b"RETR 4294967296",
        "number_huge": b"LIST 99999999999999999999",
        "number_zero": b"DELE 0",
        "number_negative": b"RETR -1",
        "number_leading_zeros": b"RETR 0000000000001",
        "number_sign": b"RETR +1",
        "double_space": b"TOP 1  10",
        "trailing_space": b"RETR 1 ",
        "nul": b"RETR 1\x00",
        "crlf": b"USER a\r\nPASS b",
        "lowercase": b"retr 2",
        "argument_41": b"USER " + b"a" * 41,
        # RFC 2449 4: 255 octets at most; these are longer.
        "over_255": b"USER " + b"a" * 300,
        "over_255_pass": b"PASS " + b"p" * 1000,
        "over_255_auth": b"AUTH PLAIN " + b"QUFB" * 300,
        "unknown": b"XYZZY 1 2 3",
        "http": b"GET / HTTP/1.1",
    }
    for name, data in seeds.items():
        write(t, name, data)


def mime_parse() -> None:
    t = "fuzz_mime_parse"
    h = b"From: =?utf-8?B?SsO2cmc=?= <jorg@example.test>\r\nTo: a@example.test, \"B, C\" <bc@example.test>\r\nSubject: =?iso-8859-1?Q?caf=E9?= and =?utf-8?q?=C3=A9t=C3=A9?=\r\nDate: Sat, 21 Nov 2026 18:49:00 +0000\r\nMIME-Version: 1.0\r\n"
    seeds = {
        "plain": h + b"\r\nHello\r\n",
        "qp": h + b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\nsoft break=3D\r\n",
        "qp_broken": h + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=G1 =4 = =\r\n=\r\n=0",
        "base64": h + b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZQ==\r\n",
        "base64_broken": h + b"Content-Transfer-Encoding: base64\r\n\r\nR3L*&^DvM\r\n=O=f\r\nZQ\r\n",
        "utf16": h + b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff\xfeH\x00i\x00\x00\xd8\r\n",
        "unknown_charset": h + b"Content-Type: text/plain; charset=x-nonesuch\r\n\r\n\xe9\r\n",
        "multipart": h + b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\ntext\r\n--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename*0*=utf-8''%C3%A9t%C3%A9; filename*1=.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\nepilogue\r\n",
        "alternative": h + b"Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--alt\r\nContent-Type: text/plain\r\n\r\nx\r\n--alt--\r\n",
        "no_close_delimiter": h + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\n\r\nsecond",
        "empty_boundary": h + b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\nx\r\n----\r\n",
        "missing_boundary": h + b"Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n",
        "boundary_in_body": h + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx--b--y\r\n--bb\r\n--b --\r\n",
        "unquoted_boundary_spaces": h + b"Content-Type: multipart/mixed; boundary=a b c\r\n\r\n--a b c\r\n\r\nx\r\n--a b c--\r\n",
        "nested_deep": h + b"".join(b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (i, i) for i in range(24)) + b"\r\ndeep\r\n",
        "digest": h + b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\n\r\nx\r\n--d--\r\n",
        "lf_only": b"Subject: =?utf-8?B?w6k=?=\nContent-Type: text/plain\n\nline\n",
        "rfc2047_broken": b"Subject: =?utf-8?B?####?= =?bogus?X?abc?= =?utf-8?Q?abc =?=?utf-8?q?a_b?==?utf-8?q?c?=\r\n\r\n",
        "rfc2231": b"Content-Type: text/plain; charset*=us-ascii'en'%41%42; name*0=\"a\"; name*1*=%ZZ; name*3=gap\r\n\r\nx",
        "content_type_junk": b"Content-Type: /;;==\"\\\r\n\r\nx",
        "address_list": b"To: undisclosed-recipients:;, (comment) a@b.example, \"q\\\"x\" <c@d.example>, <@route:e@f.example>\r\n\r\n",
        "dates": b"Date: 31 Dec 1969 23:59:59 -2359\r\n\r\n",
        "nul_and_cr": b"Subject: a\x00b\rc\r\nContent-Type: text/plain\r\n\r\nx\x00y\rz",
    }
    for name, data in seeds.items():
        write(t, name, data)


def pop3_response() -> None:
    t = "fuzz_pop3_response"
    seeds = {
        "ok": b"+OK ready\r\n",
        "err": b"-ERR [IN-USE] maildrop locked\r\n",
        "continuation": b"+ \r\n",
        "uidl": b"+OK\r\n1 abc\r\n2 def\r\n.\r\n",
        "capa": b"+OK\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\n.\r\n",
        "retr_stuffed": b"+OK 120 octets\r\nSubject: x\r\n\r\n..hidden dot\r\n...\r\n.\r\n",
        "empty_body": b"+OK\r\n.\r\n",
        "bare_lf": b"+OK\nline\n.\n",
        "cr_inside": b"+OK\r\na\rb\r\n.\r\n",
        "no_terminator": b"+OK\r\nline\r\nline\r\n",
        "after_end": b"+OK\r\n.\r\n+OK next\r\n",
        "garbage_status": b"OK no sign\r\n",
        "endless_status": b"+OK " + b"x" * 2000,
        "endless_line": b"+OK\r\n" + b"y" * 70000,
        "nul": b"+OK a\x00b\r\nx\x00\r\n.\r\n",
    }
    for name, data in seeds.items():
        write(t, name, data)


def dns_name(name: str) -> bytes:
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def dns_packet(answers, rcode=0, qname="example.test", qcount=1) -> bytes:
    header = struct.pack(">HHHHHH", 0x1234, 0x8180 | rcode, qcount, len(answers), 0, 0)
    question = dns_name(qname) + struct.pack(">HH", 15, 1) if qcount else b""
    body = b""
    for rname, rtype, rdata in answers:
        body += rname + struct.pack(">HHIH", rtype, 1, 300, len(rdata)) + rdata
    return header + question + body


def mx_response() -> None:
    t = "fuzz_mx_response"
    ptr = b"\xc0\x0c"  # the question's name
    mx = lambda pref, host: struct.pack(">H", pref) + host
    seeds = {
        "two_mx": dns_packet([(ptr, 15, mx(20, dns_name("mx2.example.test"))),
                              (ptr, 15, mx(10, dns_name("mx1.example.test")))]),
        "compressed": dns_packet([(ptr, 15, mx(10, b"\x03mx1\xc0\x0c"))]),
        "null_mx": dns_packet([(ptr, 15, mx(0, b"\x00"))]),
        "no_answer": dns_packet([]),
        "nxdomain": dns_packet([], rcode=3),
        "servfail": dns_packet([], rcode=2),
        "cname_then_mx": dns_packet([(ptr, 5, dns_name("alias.example.test")),
                                     (ptr, 15, mx(5, dns_name("mx.example.test")))]),
        "pointer_forward": dns_packet([(ptr, 15, mx(10, b"\xc0\x2a"))]),
        # The question's name is a pointer to itself.
        "pointer_loop": struct.pack(">HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x0f\x00\x01",
        "bad_host_chars": dns_packet([(ptr, 15, mx(10, dns_name("mx;rm -rf.example")))]),
        "host_with_nul": dns_packet([(ptr, 15, mx(10, b"\x03m\x00x\x07example\x00"))]),
        "long_name": dns_packet([(ptr, 15, mx(10, dns_name(".".join(["a" * 63] * 4))))]),
        "rdlength_lie": dns_packet([(ptr, 15, mx(10, dns_name("mx.example.test")))])[:-3],
        "truncated_header": b"\x12\x34\x81\x80\x00",
        "query_not_response": struct.pack(">HHHHHH", 1, 0x0100, 0, 0, 0, 0),
        "many_questions": dns_packet([], qcount=0)[:4] + b"\xff\xff" + b"\x00" * 6,
    }
    for name, data in seeds.items():
        write(t, name, data)


def spf_record():
    """SPF records (RFC 7208): every mechanism and modifier, macros, and the syntax errors of
    the RFC 7208 test suite's kind."""
    seeds = {
        "simple": "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx -all",
        "include_redirect": "v=spf1 include:_spf.example.com redirect=_spf.example.net",
        "dual_cidr": "v=spf1 a:mail.example.com/24//64 mx/26 ~all",
        "macros": "v=spf1 exists:%{ir}.%{v}._spf.%{d2} exp=explain._spf.%{d}",
        "macro_letters": "v=spf1 a:%{l1r-}.%{o}.%{h}.%{p}.%{S}.example.com -all",
        "explanation": "%{c} is not one of %{d}'s designated mail servers at %{t} for %{r}%_%-%%",
        "unknown_modifier": "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
        "bad_cidr": "v=spf1 ip4:1.2.3.4/033 a//129 -all",
        "bad_macro": "v=spf1 a:%{x}.example.com %{d0} -all",
        "twice": "v=spf1 redirect=a.example redirect=b.example exp=c.example exp=d.example",
        "toplabel": "v=spf1 a:museum a:foo.1 a:example.com. -all",
        "non_ascii": "v=spf1 a:\xef\xbb\xbfgarbage.example.net -all",
        "trailing_percent": "v=spf1 exists:foo%",
    }
    for name, data in seeds.items():
        write("fuzz_spf_record", name, data)


def dmarc_record():
    """DMARC records (RFC 7489 6.3)."""
    seeds = {
        "reject": "v=DMARC1; p=reject; rua=mailto:d@example.com",
        "full": "v=DMARC1;p=quarantine;sp=none;pct=25;adkim=s;aspf=r;fo=1;ri=86400",
        "rua_only": "v=DMARC1; rua=mailto:d@example.com",
        "bad_values": "v=DMARC1; p=maybe; pct=101; adkim=x",
        "spaces": " v = DMARC1 ;  p = none ; ",
        "not_first": "p=reject; v=DMARC1",
    }
    for name, data in seeds.items():
        write("fuzz_dmarc_record", name, data)


def dkim_tags():
    """DKIM-Signature values and key records (RFC 6376 3.5, 3.6.1)."""
    seeds = {
        "signature": "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;"
                     " h=from:to:subject; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"
                     " b=dGVzdA==",
        "ed25519": "v=1; a=ed25519-sha256; c=simple; d=example.com; i=@mail.example.com;"
                   " s=ed; t=1700000000; x=1800000000; h=From; bh=AA==; b=AA==",
        "folded": "v=1; a=rsa-sha256; d=example.com; s=s; h=from;\r\n\tbh=AA\r\n\t==; b=A A ==",
        "duplicate_tag": "v=1; v=1; d=example.com",
        "key": "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
        "revoked_key": "v=DKIM1; p=",
        "garbage": ";;==;=;a=;=b",
    }
    for name, data in seeds.items():
        write("fuzz_dkim_tags", name, data)


def bdat_command():
    """BDAT arguments (RFC 3030 2) and BDAT data for its text check."""
    seeds = {
        "size": "100",
        "last": "0 LAST",
        "lower": "12 last",
        "overflow": "18446744073709551616",
        "text": b"a\r\nb\r\n",
        "bare": b"a\nb",
    }
    for name, data in seeds.items():
        write("fuzz_bdat_command", name, data)


def dsn_parameters():
    """xtext and the DSN parameter values (RFC 3461 4)."""
    seeds = {
        "notify": "SUCCESS,FAILURE,DELAY",
        "never": "NEVER",
        "orcpt": "rfc822;a+2Bb@example.test",
        "envid": "QQ+2B1+3Dx",
        "ret": "HDRS",
        "short": "a+2",
    }
    for name, data in seeds.items():
        write("fuzz_dsn_parameters", name, data)
    write("fuzz_smtp_command", "dsn_rcpt",
          "RCPT TO:<a@b.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@b.example")
    write("fuzz_smtp_command", "dsn_mail", "MAIL FROM:<a@b.example> RET=FULL ENVID=QQ+2B1")


if __name__ == "__main__":
    smtp_command()
    data_reader()
    reply_parser()
    address()
    headers()
    pop3_command()
    mime_parse()
    pop3_response()
    mx_response()
    spf_record()
    dmarc_record()
    dkim_tags()
    bdat_command()
    dsn_parameters()
    total = sum(1 for _ in CORPUS.rglob("*") if _.is_file())
    print(f"make_corpus: {total} seed files in {CORPUS}")
