// corpus: the requests both parsers are timed on. Each entry is one buffer as a client would send
// it; "pipelined" is 16 requests in one buffer.
#pragma once

#include <string>
#include <vector>

namespace one::bench {

struct Sample {
    const char* name;
    std::string bytes;
    int requests;  // how many requests the bytes hold
};

inline std::vector<Sample> corpus() {
    std::string minimal = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    std::string browser =
        "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
        "Host: www.kittyhell.com\r\n"
        "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
        "Accept-Encoding: gzip,deflate\r\n"
        "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
        "Keep-Alive: 115\r\n"
        "Connection: keep-alive\r\n"
        "Cache-Control: max-age=0\r\n"
        "If-Modified-Since: Sat, 20 Mar 2010 12:33:21 GMT\r\n"
        "Referer: http://www.kittyhell.com/\r\n"
        "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
        "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x\r\n\r\n";
    std::string post = "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/json\r\n"
                       "Content-Length: 64\r\n\r\n" + std::string(64, 'b');
    std::string pipelined;
    for (int i = 0; i < 16; ++i) pipelined += "GET /hello HTTP/1.1\r\nHost: bench\r\nUser-Agent: loadgen\r\n\r\n";
    std::string chunked = "POST /echo HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 8; ++i) chunked += "80\r\n" + std::string(128, 'c') + "\r\n";
    chunked += "0\r\n\r\n";
    return {{"minimal GET", minimal, 1}, {"browser GET", browser, 1}, {"POST with body", post, 1},
            {"pipelined 16", pipelined, 16}, {"chunked body", chunked, 1}};
}

}  // namespace one::bench
