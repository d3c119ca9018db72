#include "auth/password.h"

#include <gtest/gtest.h>

#include "auth/token.h"

namespace braid::auth {
namespace {

TEST(PasswordTest, HashesVerifyAndNameTheirParameters) {
  auto h = HashPassword("correct horse");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->rfind("scrypt$14$8$1$", 0), 0u) << *h;
  EXPECT_TRUE(VerifyPassword("correct horse", *h));
  EXPECT_FALSE(VerifyPassword("correct horsE", *h));
  EXPECT_FALSE(VerifyPassword("", *h));
  // A fresh salt each time.
  EXPECT_NE(*HashPassword("correct horse"), *h);
}

TEST(PasswordTest, MalformedOrCostlyStoredHashesNeverVerify) {
  const std::string h = *HashPassword("correct horse");
  const std::string prefix = "scrypt$14$8$1";
  ASSERT_EQ(h.rfind(prefix, 0), 0u);
  const std::string tail = h.substr(prefix.size());  // "$SALT$KEY"
  ASSERT_TRUE(VerifyPassword("correct horse", prefix + tail));
  EXPECT_FALSE(VerifyPassword("correct horse", "scrypt$14$8$1" + tail.substr(0, 10)));
  EXPECT_FALSE(VerifyPassword("correct horse", "bcrypt$15$8$1" + tail));
  // Parameters out of range would cost too much: refused without deriving.
  EXPECT_FALSE(VerifyPassword("correct horse", "scrypt$30$8$1" + tail));
  EXPECT_FALSE(VerifyPassword("correct horse", "scrypt$14$99$1" + tail));
  EXPECT_FALSE(VerifyPassword("correct horse", "scrypt$14$8$0" + tail));
  EXPECT_FALSE(VerifyPassword("correct horse", "scrypt$x$8$1" + tail));
  // Other parameters than the stored ones derive another key.
  EXPECT_FALSE(VerifyPassword("correct horse", "scrypt$13$8$1" + tail));
  EXPECT_FALSE(VerifyPassword("correct horse", ""));
}

TEST(PasswordTest, Rules) {
  EXPECT_TRUE(ValidatePassword("12345678").ok());
  EXPECT_EQ(ValidatePassword("1234567").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidatePassword(std::string(1025, 'a')).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidatePassword("password\n").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidatePassword("pass\tword").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidatePassword("passw\xff"
                             "rd")
                .code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(ValidatePassword("pässwörd").ok());
  const std::string a = NewPassword(), b = NewPassword();
  EXPECT_EQ(a.size(), 24u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ValidatePassword(a).ok());
}

TEST(TokenTest, TokensAndHashes) {
  const std::string t1 = NewToken(), t2 = NewToken();
  EXPECT_NE(t1, t2);
  EXPECT_EQ(t1.rfind("braid_", 0), 0u);
  EXPECT_EQ(TokenHash(t1).size(), 32u);
  EXPECT_EQ(TokenHash(t1), TokenHash(t1));
  EXPECT_NE(TokenHash(t1), TokenHash(t2));
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer  abc "), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
}

}  // namespace
}  // namespace braid::auth
