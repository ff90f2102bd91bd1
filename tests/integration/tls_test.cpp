// HTTPS upstreams: certificate chain and host-name verification, SNI, DNS resolution of the host.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

// A throwaway CA and a certificate for "localhost" signed by it, made with the openssl CLI.
struct Certificates {
    std::string ca;
    std::string cert;
    std::string key;
};

Certificates make_certificates() {
    const std::string dir = temp_dir();
    Certificates out{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
    const std::string script =
        "set -e; cd '" + dir + "'; "
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=switchyard-test-ca -keyout ca.key -out ca.pem; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr; "
        "printf 'subjectAltName=DNS:localhost\\n' > ext.cnf; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem";
    Process openssl("openssl", {"/bin/sh", "-c", script});
    if (openssl.stop(0, std::chrono::seconds(60)) != 0) throw std::runtime_error("openssl failed:\n" + openssl.log());
    return out;
}

class TlsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { certs = new Certificates(make_certificates()); }
    static void TearDownTestSuite() { delete certs; }

    void SetUp() override {
        sim = start_sim({"--tls-cert", certs->cert, "--tls-key", certs->key, "--model", "m"});
    }

    std::string config(const std::string& tls) const {
        return R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - name: secure
    type: openai
    base_url: https://localhost:)" +
               std::to_string(sim.port) + R"(/v1
    health: {enabled: false}
)" + tls + R"(
models:
  - name: m
    deployments: [{upstream: secure}]
)";
    }

    static Certificates* certs;
    Sim sim;
};
Certificates* TlsTest::certs = nullptr;

TEST_F(TlsTest, VerifiedAgainstTheConfiguredCa) {
    auto gateway = start_gateway(config("    tls: {ca_file: " + certs->ca + "}"));
    auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto streamed = post_streaming(gateway.port, "/v1/chat/completions", chat_body("m", true));
    EXPECT_EQ(streamed.status, 200);
    EXPECT_NE(streamed.body().find("data: [DONE]"), std::string::npos);
}

TEST_F(TlsTest, UnknownCaIsRefused) {
    auto gateway = start_gateway(config(""));
    auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"));
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.body.find("certificate verify failed"), std::string::npos) << r.body;
}

TEST_F(TlsTest, WrongHostNameIsRefused) {
    auto gateway = start_gateway(config("    tls: {ca_file: " + certs->ca + ", server_name: api.example.com}"));
    auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"));
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.body.find("tls"), std::string::npos) << r.body;
}

TEST_F(TlsTest, VerificationCanBeTurnedOff) {
    auto gateway = start_gateway(config("    tls: {verify: false}"));
    auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"));
    EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace switchyard::testing
