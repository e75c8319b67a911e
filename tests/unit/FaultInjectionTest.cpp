//===- FaultInjectionTest.cpp - KILN_FAULT_INJECT parsing and counting ----===//
#include "runtime/FaultInjection.h"
#include "runtime/DeviceError.h"

#include "gtest/gtest.h"

#include <cstdlib>

namespace kiln {
namespace {

std::string errorOf(llvm::StringRef Spec, bool Prefixed = true) {
  auto F = parseFaultInjections(Spec, Prefixed);
  if (F)
    return "";
  return llvm::toString(F.takeError());
}

TEST(FaultInjection, ParsesEveryForm) {
  auto F = parseFaultInjections(
      "device:1:after:100,device:0:after:5:recoverable,"
      "device:2:after:7:recoverable:3,device:3:after:1:lost");
  ASSERT_TRUE(bool(F)) << llvm::toString(F.takeError());
  ASSERT_EQ(F->size(), 4u);
  EXPECT_EQ((*F)[0].Device, 1);
  EXPECT_EQ((*F)[0].AfterLaunches, 100u);
  EXPECT_FALSE((*F)[0].Recoverable);
  EXPECT_TRUE((*F)[1].Recoverable);
  EXPECT_EQ((*F)[1].Launches, 1u);
  EXPECT_EQ((*F)[2].Launches, 3u);
  EXPECT_FALSE((*F)[3].Recoverable);
  auto Short = parseFaultInjections("1:after:100", /*Prefixed=*/false);
  ASSERT_TRUE(bool(Short)) << llvm::toString(Short.takeError());
  EXPECT_EQ((*Short)[0].Device, 1);
}

TEST(FaultInjection, BadSpecsSayWhy) {
  EXPECT_NE(errorOf("gpu:1:after:3").find("must start with 'device:'"),
            std::string::npos);
  EXPECT_NE(errorOf("device:1:after").find("too few fields"),
            std::string::npos);
  EXPECT_NE(errorOf("device:x:after:3").find("device 'x' is not"),
            std::string::npos);
  EXPECT_NE(errorOf("device:1:before:3").find("'before' where 'after'"),
            std::string::npos);
  EXPECT_NE(errorOf("device:1:after:0").find("launches count from 1"),
            std::string::npos);
  EXPECT_NE(errorOf("device:1:after:3:soon").find("neither 'recoverable'"),
            std::string::npos);
  EXPECT_NE(errorOf("device:1:after:3:lost:2").find("applies to 'recoverable'"),
            std::string::npos);
  EXPECT_NE(errorOf("device:1:after:3:recoverable:0").find("count '0'"),
            std::string::npos);
  EXPECT_NE(errorOf("device:1:after:3:recoverable:2:9").find("unexpected '9'"),
            std::string::npos);
  EXPECT_NE(errorOf("").find("must start"), std::string::npos);
  // Each names the whole spec and the expected form.
  std::string E = errorOf("1:after:x", false);
  EXPECT_NE(E.find("'1:after:x'"), std::string::npos) << E;
  EXPECT_NE(E.find("expected D:after:K[:recoverable[:N]]"), std::string::npos)
      << E;
}

TEST(FaultInjection, EngineChecksTheDeviceAndReadsTheEnvironment) {
  auto Out = engineFaultInjections({{3, 1, false, 1}}, 2);
  ASSERT_FALSE(bool(Out));
  EXPECT_NE(llvm::toString(Out.takeError()).find("logical devices 0..1"),
            std::string::npos);
  ::setenv("KILN_FAULT_INJECT", "device:1:after:4", 1);
  auto Env = engineFaultInjections({}, 2);
  ASSERT_TRUE(bool(Env)) << llvm::toString(Env.takeError());
  ASSERT_EQ(Env->size(), 1u);
  EXPECT_EQ((*Env)[0].AfterLaunches, 4u);
  // The options win over the environment.
  auto Opt = engineFaultInjections({{0, 9, false, 1}}, 2);
  ASSERT_TRUE(bool(Opt));
  EXPECT_EQ((*Opt)[0].Device, 0);
  ::setenv("KILN_FAULT_INJECT", "device:1:after", 1);
  auto Bad = engineFaultInjections({}, 2);
  ASSERT_FALSE(bool(Bad));
  EXPECT_NE(llvm::toString(Bad.takeError()).find("KILN_FAULT_INJECT"),
            std::string::npos);
  ::unsetenv("KILN_FAULT_INJECT");
}

/// The severity of `E` (consumed): 0 none, 1 lost, 2 recoverable, 3 other.
int severityOf(llvm::Error E) {
  int S = 0;
  llvm::handleAllErrors(std::move(E), [&](const llvm::ErrorInfoBase &I) {
    if (!I.isA<DeviceError>()) {
      S = 3;
      return;
    }
    const auto &D = static_cast<const DeviceError &>(I);
    EXPECT_EQ(D.device(), 1);
    S = D.severity() == DeviceError::Severity::Lost ? 1 : 2;
  });
  return S;
}

TEST(FaultInjection, LostFromTheKthLaunchOn) {
  FaultInjector F(1, {{1, 3, false, 1}});
  EXPECT_EQ(severityOf(F.onLaunch()), 0);
  EXPECT_EQ(severityOf(F.onLaunch()), 0);
  for (int I = 0; I < 5; ++I)
    EXPECT_EQ(severityOf(F.onLaunch()), 1);
  EXPECT_EQ(F.launches(), 7u);
}

TEST(FaultInjection, RecoverableForNLaunches) {
  FaultInjector F(1, {{1, 2, true, 2}});
  EXPECT_EQ(severityOf(F.onLaunch()), 0);
  EXPECT_EQ(severityOf(F.onLaunch()), 2);
  EXPECT_EQ(severityOf(F.onLaunch()), 2);
  EXPECT_EQ(severityOf(F.onLaunch()), 0);
  EXPECT_EQ(severityOf(F.onLaunch()), 0);
}

TEST(FaultInjection, NoFaultsNeverFail) {
  FaultInjector F(1, {});
  for (int I = 0; I < 100; ++I)
    EXPECT_EQ(severityOf(F.onLaunch()), 0);
}

} // namespace
} // namespace kiln
