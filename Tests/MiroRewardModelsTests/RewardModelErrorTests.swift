import Testing
import MiroRewardModels

@Test func rewardModelErrorsNameTheFile() {
    #expect(RewardModelError.file(path: "/m/config.json", reason: "missing key projection_dim").description
        == "/m/config.json: missing key projection_dim")
}
