import Testing
import MiroDataPrep

@Test func dataPrepErrorsNameThePath() {
    #expect(DataPrepError.output(path: "/out/000.tar", reason: "exists").description == "output /out/000.tar: exists")
}
